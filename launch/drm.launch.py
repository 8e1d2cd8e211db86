"""Start drm_node with its params file, optionally beside a camera driver and RViz.

ros2 launch drm_ros drm.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info
ros2 launch drm_ros drm.launch.py camera:=usb_cam rviz:=true
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, LaunchConfigurationEquals
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("drm_ros")
    image = LaunchConfiguration("image")
    camera_info = LaunchConfiguration("camera_info")
    return LaunchDescription([
        DeclareLaunchArgument("params", default_value=PathJoinSubstitution([share, "config", "drm_node.yaml"]),
                              description="parameters file of drm_node"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="input image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="its CameraInfo"),
        DeclareLaunchArgument("model_path", default_value="", description="model file; empty: the shipped model"),
        DeclareLaunchArgument("device", default_value="auto", description="auto, cuda or cpu"),
        DeclareLaunchArgument("camera", default_value="none", description="camera driver to start: none, usb_cam "
                                                                           "or v4l2_camera"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with config/drm.rviz"),
        Node(package="drm_ros", executable="drm_node", name="drm_node", output="screen",
             parameters=[LaunchConfiguration("params"),
                         {"model_path": LaunchConfiguration("model_path"), "device": LaunchConfiguration("device")}],
             remappings=[("image", image), ("camera_info", camera_info)]),
        Node(package="usb_cam", executable="usb_cam_node_exe", name="camera", namespace="camera",
             parameters=[{"frame_id": "camera_optical_frame"}],
             condition=LaunchConfigurationEquals("camera", "usb_cam")),
        Node(package="v4l2_camera", executable="v4l2_camera_node", name="camera", namespace="camera",
             parameters=[{"camera_frame_id": "camera_optical_frame"}],
             condition=LaunchConfigurationEquals("camera", "v4l2_camera")),
        Node(package="rviz2", executable="rviz2", name="rviz",
             arguments=["-d", PathJoinSubstitution([share, "config", "drm.rviz"])],
             condition=IfCondition(LaunchConfiguration("rviz"))),
    ])

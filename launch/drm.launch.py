"""Start drm_node with its params file, optionally beside a camera driver and RViz.

ros2 launch drm_ros drm.launch.py image:=/camera/image_raw camera_info:=/camera/camera_info
ros2 launch drm_ros drm.launch.py camera:=usb_cam rviz:=true
ros2 launch drm_ros drm.launch.py params:=/path/to/my_drm_node.yaml model_path:=/path/to/model.onnx

Every process it starts (node, camera driver, RViz) gets FASTDDS_DEFAULT_PROFILES_FILE = dds_profile (default:
config/fastdds_large_images.xml, unless the variable is already set): HD best-effort images need it in the
publisher's process. A camera started elsewhere needs the same variable (README, QoS).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.conditions import IfCondition
from launch.substitutions import EnvironmentVariable, EqualsSubstitution, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

CAMERA_FRAME = "camera_optical_frame"  # RViz's fixed frame in config/drm.rviz


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare("drm_ros")
    image = LaunchConfiguration("image")
    camera = LaunchConfiguration("camera")
    arguments = [
        DeclareLaunchArgument("params", default_value=PathJoinSubstitution([share, "config", "drm_node.yaml"]),
                              description="parameters file of drm_node"),
        DeclareLaunchArgument("image", default_value="/camera/image_raw", description="input image topic"),
        DeclareLaunchArgument("camera_info", default_value="/camera/camera_info", description="its CameraInfo topic"),
        DeclareLaunchArgument("model_path", default_value="", description="model file; empty: the shipped model"),
        DeclareLaunchArgument("device", default_value="auto", choices=["auto", "cuda", "cpu"],
                              description="where the model runs"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="true when replaying a bag"),
        DeclareLaunchArgument("camera", default_value="none", choices=["none", "usb_cam", "v4l2_camera"],
                              description="camera driver to start, publishing /camera/image_raw"),
        DeclareLaunchArgument("video_device", default_value="/dev/video0", description="the driver's device"),
        DeclareLaunchArgument("rviz", default_value="false", description="start RViz with config/drm.rviz"),
        DeclareLaunchArgument(
            "dds_profile", description="Fast DDS XML profile for every process started here (large images)",
            default_value=EnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", default_value=PathJoinSubstitution(
                [share, "config", "fastdds_large_images.xml"]))),
    ]
    # Before the nodes: launch passes its environment to every process it starts.
    dds_profile = SetEnvironmentVariable("FASTDDS_DEFAULT_PROFILES_FILE", LaunchConfiguration("dds_profile"))
    drm = Node(
        package="drm_ros", executable="drm_node", name="drm_node", output="screen",
        parameters=[LaunchConfiguration("params"), {
            # value_type=str: launch would read an empty model_path as YAML null and refuse it
            "model_path": ParameterValue(LaunchConfiguration("model_path"), value_type=str),
            "device": LaunchConfiguration("device"),
            "use_sim_time": LaunchConfiguration("use_sim_time"),
        }],
        # The node's topics are relative ("image", "camera_info"), so remapping them moves the node.
        remappings=[("image", image), ("image/compressed", [image, "/compressed"]),
                    ("camera_info", LaunchConfiguration("camera_info"))])
    drivers = [
        Node(package="usb_cam", executable="usb_cam_node_exe", name="camera", namespace="camera", output="screen",
             parameters=[{"frame_id": CAMERA_FRAME, "video_device": LaunchConfiguration("video_device")}],
             condition=IfCondition(EqualsSubstitution(camera, "usb_cam"))),
        Node(package="v4l2_camera", executable="v4l2_camera_node", name="camera", namespace="camera", output="screen",
             parameters=[{"camera_frame_id": CAMERA_FRAME, "video_device": LaunchConfiguration("video_device")}],
             condition=IfCondition(EqualsSubstitution(camera, "v4l2_camera"))),
    ]
    rviz = Node(package="rviz2", executable="rviz2", name="rviz", output="screen",
                arguments=["-d", PathJoinSubstitution([share, "config", "drm.rviz"])],
                condition=IfCondition(LaunchConfiguration("rviz")))
    return LaunchDescription([*arguments, dds_profile, drm, *drivers, rviz])

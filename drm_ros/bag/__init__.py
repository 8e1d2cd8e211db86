"""Offline bag tools: record footage into a rosbag2, replay a bag through the frame pipeline with a report, play a bag into a live graph."""

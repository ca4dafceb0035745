"""Unitree driver node for the hardware backend: unitree_ros2's /lowstate and /lowcmd <-> the
contract (translation: hardware/unitree.py; topics and motor slots: config/hardware/go1.yaml).
Also publishes /imu/data from LowState.imu_state: the robot has no other IMU publisher."""
from __future__ import annotations

from sensor_msgs.msg import Imu

from sim2real.hardware.base import Refused
from sim2real.hardware.unitree import UnitreeGo
from sim2real.ros import convert
from sim2real.ros.nodes.hw_base import HardwareDriverNode, vendor_type


class UnitreeDriverNode(HardwareDriverNode):
    def vendor_setup(self) -> None:
        r = self.robot.name
        self.LowState = vendor_type("unitree_go.msg", "LowState", "unitree_go", r)
        self.LowCmd = vendor_type("unitree_go.msg", "LowCmd", "unitree_go", r)
        self.core = UnitreeGo(self.robot, self.hw)
        self.imu_frame = self.hw.param("imu_frame", str, self.robot.imu.body if self.robot.imu else "")
        self.pub_imu = self.create_publisher(Imu, "/imu/data", 10)
        self.pub_cmd = self.create_publisher(self.LowCmd, self.hw.topic("lowcmd"), 10)
        self.create_subscription(self.LowState, self.hw.topic("lowstate"), self._on_vendor_state, self.vendor_qos())

    def _on_vendor_state(self, msg) -> None:
        now = self.get_clock().now().nanoseconds * 1e-9     # LowState has no stamp: received now
        try:
            st = self.core.state(msg, now)
            quat, gyro, accel = self.core.imu(msg)
        except Refused as e:
            self.refuse_state(str(e))
            return
        self.on_state(st)
        self.pub_imu.publish(convert.imu(now, self.imu_frame, quat, gyro, accel))

    def send(self, cmd, hold) -> None:
        self.pub_cmd.publish(self.core.command(cmd, self.LowCmd()))

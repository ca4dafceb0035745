"""NAO driver node for the hardware backend: naoqi_driver2's /joint_states and /joint_angles <->
the contract (translation: hardware/naoqi.py; topics and speed: config/hardware/nao.yaml).
Targets go out as naoqi_bridge_msgs/JointAnglesWithSpeed; on a hold nothing is sent (ALMotion
keeps the last target)."""
from __future__ import annotations

from sensor_msgs.msg import JointState

from sim2real.hardware.base import Refused
from sim2real.hardware.naoqi import Naoqi
from sim2real.ros.nodes.hw_base import HardwareDriverNode, vendor_type


class NaoqiDriverNode(HardwareDriverNode):
    def vendor_setup(self) -> None:
        self.Angles = vendor_type("naoqi_bridge_msgs.msg", "JointAnglesWithSpeed", "naoqi_bridge_msgs",
                                  self.robot.name)
        self.core = Naoqi(self.robot, self.hw)
        self.pub_angles = self.create_publisher(self.Angles, self.hw.topic("joint_angles"), 10)
        self.create_subscription(JointState, self.hw.topic("joint_states"), self._on_vendor_state, self.vendor_qos())
        self._sent_target = None

    def _on_vendor_state(self, msg: JointState) -> None:
        try:
            self.on_state(self.core.state(msg))
        except Refused as e:
            self.refuse_state(str(e))

    def send(self, cmd, hold) -> None:
        if hold:
            return        # ALMotion holds the last target by itself
        msg = self.core.command(cmd, self.Angles())
        msg.header.stamp = self.get_clock().now().to_msg()
        self.pub_angles.publish(msg)

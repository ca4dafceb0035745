"""Field-for-field mirrors of the vendor messages the adapters read and write, for machines
without the vendor packages (none of them has a wheel) and for the tests' synthetic streams.

Each class carries exactly the fields of the vendor's .msg file, with its fixed array sizes, so
an adapter core reads and fills a mirror and a real message alike (same attribute names). The
ROS nodes use the real types (imported lazily); nothing here is sent on the wire.

Sources:
  sensor_msgs/JointState, std_msgs/Header     ros2/common_interfaces
  kinova_msgs/JointTorque, JointVelocity, JointAngles
                                              Kinovarobotics/kinova-ros, kinova_msgs/msg/*.msg
                                              (float32 joint1 .. joint7; torques N m, velocities
                                              deg/s, angles deg)
  naoqi_bridge_msgs/JointAnglesWithSpeed      ros-naoqi/naoqi_bridge_msgs2, msg/JointAnglesWithSpeed.msg
  unitree_go/LowState, LowCmd, MotorState, MotorCmd, IMUState, BmsCmd, BmsState
                                              unitreerobotics/unitree_ros2,
                                              cyclonedds_ws/src/unitree/unitree_go/msg/*.msg
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Time:                      # builtin_interfaces/Time
    sec: int = 0
    nanosec: int = 0


@dataclass
class Header:                    # std_msgs/Header
    stamp: Time = field(default_factory=Time)
    frame_id: str = ""


@dataclass
class JointState:                # sensor_msgs/JointState
    header: Header = field(default_factory=Header)
    name: list = field(default_factory=list)
    position: list = field(default_factory=list)
    velocity: list = field(default_factory=list)
    effort: list = field(default_factory=list)


# -- kinova_msgs (each: float32 joint1 ... joint7) --

@dataclass
class KinovaJoints7:
    joint1: float = 0.0
    joint2: float = 0.0
    joint3: float = 0.0
    joint4: float = 0.0
    joint5: float = 0.0
    joint6: float = 0.0
    joint7: float = 0.0


class JointTorque(KinovaJoints7):      # kinova_msgs/JointTorque, N m (in/joint_torque)
    pass


class JointVelocity(KinovaJoints7):    # kinova_msgs/JointVelocity, deg/s (in/joint_velocity)
    pass


class JointAngles(KinovaJoints7):      # kinova_msgs/JointAngles, deg (out/joint_angles; out/joint_torques in N m)
    pass


# -- naoqi_bridge_msgs --

@dataclass
class JointAnglesWithSpeed:      # naoqi_bridge_msgs/JointAnglesWithSpeed
    header: Header = field(default_factory=Header)
    joint_names: list = field(default_factory=list)     # string[]
    joint_angles: list = field(default_factory=list)    # float32[], rad
    speed: float = 0.0                                  # float32, fraction of max joint speed [0, 1]
    relative: int = 0                                   # uint8, 0 absolute, 1 relative change


# -- unitree_go --

@dataclass
class MotorState:                # unitree_go/MotorState
    mode: int = 0                # uint8
    q: float = 0.0               # float32, rad
    dq: float = 0.0              # float32, rad/s
    ddq: float = 0.0             # float32, rad/s^2
    tau_est: float = 0.0         # float32, N m (from motor current)
    q_raw: float = 0.0
    dq_raw: float = 0.0
    ddq_raw: float = 0.0
    temperature: int = 0         # int8
    lost: int = 0                # uint32
    reserve: list = field(default_factory=lambda: [0, 0])   # uint32[2]


@dataclass
class IMUState:                  # unitree_go/IMUState
    quaternion: list = field(default_factory=lambda: [1.0, 0.0, 0.0, 0.0])   # float32[4], w x y z
    gyroscope: list = field(default_factory=lambda: [0.0] * 3)              # float32[3], rad/s
    accelerometer: list = field(default_factory=lambda: [0.0] * 3)          # float32[3], m/s^2
    rpy: list = field(default_factory=lambda: [0.0] * 3)                    # float32[3], rad
    temperature: int = 0                                                    # int8


@dataclass
class BmsState:                  # unitree_go/BmsState
    version_high: int = 0
    version_low: int = 0
    status: int = 0
    soc: int = 0
    current: int = 0
    cycle: int = 0
    bq_ntc: list = field(default_factory=lambda: [0, 0])
    mcu_ntc: list = field(default_factory=lambda: [0, 0])
    cell_vol: list = field(default_factory=lambda: [0] * 15)


@dataclass
class LowState:                  # unitree_go/LowState
    head: list = field(default_factory=lambda: [0, 0])                # uint8[2]
    level_flag: int = 0
    frame_reserve: int = 0
    sn: list = field(default_factory=lambda: [0, 0])                  # uint32[2]
    version: list = field(default_factory=lambda: [0, 0])             # uint32[2]
    bandwidth: int = 0
    imu_state: IMUState = field(default_factory=IMUState)
    motor_state: list = field(default_factory=lambda: [MotorState() for _ in range(20)])
    bms_state: BmsState = field(default_factory=BmsState)
    foot_force: list = field(default_factory=lambda: [0] * 4)         # int16[4]
    foot_force_est: list = field(default_factory=lambda: [0] * 4)
    tick: int = 0                                                     # uint32, ms
    wireless_remote: list = field(default_factory=lambda: [0] * 40)
    bit_flag: int = 0
    adc_reel: float = 0.0
    temperature_ntc1: int = 0
    temperature_ntc2: int = 0
    power_v: float = 0.0
    power_a: float = 0.0
    fan_frequency: list = field(default_factory=lambda: [0] * 4)
    reserve: int = 0
    crc: int = 0


@dataclass
class MotorCmd:                  # unitree_go/MotorCmd
    mode: int = 0                # uint8: 0x01 servo (PMSM), 0x00 off
    q: float = 0.0               # float32, rad
    dq: float = 0.0              # float32, rad/s
    tau: float = 0.0             # float32, N m feed-forward
    kp: float = 0.0              # float32, N m/rad
    kd: float = 0.0              # float32, N m s/rad
    reserve: list = field(default_factory=lambda: [0, 0, 0])   # uint32[3]


@dataclass
class BmsCmd:                    # unitree_go/BmsCmd
    off: int = 0
    reserve: list = field(default_factory=lambda: [0, 0, 0])


@dataclass
class LowCmd:                    # unitree_go/LowCmd
    head: list = field(default_factory=lambda: [0, 0])                # uint8[2]
    level_flag: int = 0
    frame_reserve: int = 0
    sn: list = field(default_factory=lambda: [0, 0])
    version: list = field(default_factory=lambda: [0, 0])
    bandwidth: int = 0
    motor_cmd: list = field(default_factory=lambda: [MotorCmd() for _ in range(20)])
    bms_cmd: BmsCmd = field(default_factory=BmsCmd)
    wireless_remote: list = field(default_factory=lambda: [0] * 40)
    led: list = field(default_factory=lambda: [0] * 12)
    fan: list = field(default_factory=lambda: [0, 0])
    gpio: int = 0
    reserve: int = 0
    crc: int = 0

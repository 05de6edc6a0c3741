"""The pouring world's scene: an MJCF of simple geoms, and the geometric queries on it.

A table (a box whose top is at z = 0, with the checker texture), a square bottle with a
sloped shoulder and a neck, a square cup, a "hand" (a palm, two fingers and a forearm
stub) on five actuated joints, and ``NUM_DROPS`` small frictionless spheres, the liquid.
Lengths in metres. The bottle's and the cup's frames sit at the centre of their
outer bottom; the hand's frame (body ``hand``) at the centre of its palm, whose inner
face looks along the hand's +x axis, the direction it pours in.

While the hand holds the bottle, the weld ``grasp`` (activated by the scripted
controller) fixes the bottle at ``GRASP_OFFSET`` in the hand's frame. The hand does not
collide with anything, so it never knocks the bottle or the cup; whether it touches the
bottle is measured as the distance between their geoms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from timecontrast.sim.gl import import_mujoco

NUM_DROPS = 32
DROP_RADIUS = 0.0095
# Bottle: inner half-width, wall thickness, height of the straight part, neck.
BOTTLE_INNER = 3 * DROP_RADIUS + 0.004  # three drops fit side by side in a layer
WALL = 0.008
BOTTLE_BODY = 0.12  # height of the straight walls above the bottom plate
NECK_INNER = 0.022  # half-width of the opening (over two drops wide: no arches)
NECK_HEIGHT = 0.03
SHOULDER_BASE = WALL + BOTTLE_BODY  # z of the shoulder's foot (inner bottom of the 45 degree slope)
SHOULDER_TOP = SHOULDER_BASE + (BOTTLE_INNER - NECK_INNER)  # z where the neck starts
BOTTLE_TOP = SHOULDER_TOP + NECK_HEIGHT  # z of the mouth, bottle frame
BOTTLE_HALF = BOTTLE_INNER + WALL  # outer half-width
# Cup: inner half-width, height.
CUP_INNER = 0.06
CUP_HEIGHT = 0.09
CUP_FLOOR = 0.02  # thick: a drop landing at 2 m/s moves 2 cm per physics step, and must not sink through
CUP_HALF = CUP_INNER + WALL
# Hand: the palm's half-thickness; the bottle's frame in the hand's frame while held.
PALM_HALF = 0.006
GRASP_GAP = 0.001  # between palm and bottle while held
GRASP_HEIGHT = 0.07  # the palm's centre above the bottle's bottom
GRASP_OFFSET = np.array([PALM_HALF + GRASP_GAP + BOTTLE_HALF, 0.0, -GRASP_HEIGHT])
HAND_JOINTS = ("hand_x", "hand_y", "hand_z", "hand_yaw", "hand_tilt")
# Position servos (N/m or N m/rad) and joint damping (N s/m or N m s/rad): stiff, about critically damped.
SERVO = {"slide": (3000.0, 110.0), "yaw": (80.0, 4.0), "tilt": (80.0, 4.0)}
DROP_DAMPING = 0.003  # N s/m (and N m s/rad): the drops slow down and stop rolling on the table
HAND_ARMATURE = {"slide": 0.3, "hinge": 0.05}  # kg and kg m^2 of rotor inertia: steadier servos
TIMESTEP = 0.01  # s; shortened by the simulator so that a whole number of steps makes a frame


def _box(name: str, size: tuple[float, ...], pos: tuple[float, ...], material: str, extra: str = "") -> str:
    s = " ".join(f"{v:.5f}" for v in size)
    p = " ".join(f"{v:.5f}" for v in pos)
    return f'<geom name="{name}" type="box" size="{s}" pos="{p}" material="{material}" {extra}/>'


def _walls(prefix: str, inner: float, z0: float, height: float, material: str, extra: str = "") -> list[str]:
    """Four walls of thickness WALL round a square of half-width ``inner``, from z0 up ``height``."""
    h, zc, t = height / 2, z0 + height / 2, WALL / 2
    return [
        _box(f"{prefix}_px", (t, inner + WALL, h), (inner + t, 0, zc), material, extra),
        _box(f"{prefix}_nx", (t, inner + WALL, h), (-inner - t, 0, zc), material, extra),
        _box(f"{prefix}_py", (inner, t, h), (0, inner + t, zc), material, extra),
        _box(f"{prefix}_ny", (inner, t, h), (0, -inner - t, zc), material, extra),
    ]


def _shoulder() -> list[str]:
    """Four plates sloping in at 45 degrees from the walls' top to the neck (a pyramid frustum)."""
    # Each plate's inner face runs from the wall's top (extended down into the wall by WALL)
    # to the neck's foot, where it ends flush: no ledge inside for a drop to rest on.
    run = BOTTLE_INNER - NECK_INNER
    half_length = (run * np.sqrt(2) + WALL) / 2
    centre = (BOTTLE_INNER + NECK_INNER) / 2 + WALL / np.sqrt(2)
    zc = (SHOULDER_BASE + SHOULDER_TOP) / 2
    size = (WALL / 2, BOTTLE_HALF, half_length)
    c, s = np.cos(np.pi / 8), np.sin(np.pi / 8)  # quaternion of a 45 degree turn
    plates = []
    for name, pos, quat in (
        ("px", (centre, 0, zc), (c, 0, -s, 0)),
        ("nx", (-centre, 0, zc), (c, 0, s, 0)),
        ("py", (0, centre, zc), (c, s, 0, 0)),
        ("ny", (0, -centre, zc), (c, -s, 0, 0)),
    ):
        plate_size = size if name.endswith("x") else (BOTTLE_HALF, WALL / 2, half_length)
        q = " ".join(f"{v:.6f}" for v in quat)
        plates.append(_box(f"bottle_shoulder_{name}", plate_size, pos, "bottle", f'quat="{q}"'))
    return plates


def scene_xml() -> str:
    """The MJCF of the pouring world."""
    frictionless = 'condim="1" friction="0 0 0"'
    bottle = [
        _box("bottle_bottom", (BOTTLE_HALF, BOTTLE_HALF, WALL / 2), (0, 0, WALL / 2), "bottle", frictionless),
        *_walls("bottle_wall", BOTTLE_INNER, WALL, BOTTLE_BODY, "bottle", frictionless),
        *[g.replace("/>", f" {frictionless}/>") for g in _shoulder()],
        *_walls("bottle_neck", NECK_INNER, SHOULDER_TOP, NECK_HEIGHT, "bottle", frictionless),
    ]
    cup = [
        _box("cup_bottom", (CUP_HALF, CUP_HALF, CUP_FLOOR / 2), (0, 0, CUP_FLOOR / 2), "cup"),
        *_walls("cup_wall", CUP_INNER, CUP_FLOOR, CUP_HEIGHT - CUP_FLOOR, "cup"),
    ]
    drops = "\n".join(
        f'<body name="drop_{i:02d}" pos="0 0 {-1 - i}"><joint name="drop_{i:02d}" type="free" damping="{DROP_DAMPING}"/>'
        f'<geom name="drop_{i:02d}" type="sphere" size="{DROP_RADIUS}" material="liquid" density="1000" '
        f'condim="1" friction="0 0 0"/></body>'
        for i in range(NUM_DROPS)
    )
    slide_kp, slide_damping = SERVO["slide"]
    yaw_kp, yaw_damping = SERVO["yaw"]
    tilt_kp, tilt_damping = SERVO["tilt"]
    no_collision = 'contype="0" conaffinity="0"'
    finger_x = PALM_HALF + GRASP_GAP + BOTTLE_HALF
    finger_y = BOTTLE_HALF + GRASP_GAP + 0.005
    grasp = " ".join(f"{v:.5f}" for v in GRASP_OFFSET)
    return f"""
<mujoco model="pouring">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" solver="CG" iterations="30" ls_iterations="10"/>
  <visual>
    <quality numslices="8" numstacks="4"/>
    <headlight ambient=".4 .4 .4" diffuse=".8 .8 .8" specular="0.1 0.1 0.1"/>
    <global offwidth="256" offheight="256"/>
  </visual>
  <default>
    <geom solref="0.02 1" solimp="0.9 0.95 0.001"/>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1=".1 .2 .3" rgb2=".2 .3 .4" width="256" height="256"
             mark="edge" markrgb=".2 .3 .4"/>
    <texture name="skybox" type="skybox" builtin="gradient" rgb1=".4 .6 .8" rgb2="0 0 0" width="256" height="256"
             mark="random" markrgb="1 1 1"/>
    <material name="grid" texture="grid" texrepeat="8 8" texuniform="false" reflectance="0"/>
    <material name="bottle" rgba=".3 .7 .4 .4"/>
    <material name="cup" rgba=".8 .5 .2 1"/>
    <material name="liquid" rgba=".2 .4 .9 1"/>
    <material name="hand" rgba=".9 .7 .6 1"/>
  </asset>
  <worldbody>
    <light name="top" pos="0 -0.3 1.5" dir="0 0.2 -1" diffuse=".6 .6 .6" directional="false"/>
    <geom name="table" type="box" size="1.2 0.9 0.02" pos="0 0 -0.02" material="grid"/>
    <body name="hand_root" pos="0 0 0" gravcomp="1">
      <joint name="hand_x" armature="{HAND_ARMATURE["slide"]}" type="slide" axis="1 0 0" range="-0.6 0.6" damping="{slide_damping}"/>
      <joint name="hand_y" armature="{HAND_ARMATURE["slide"]}" type="slide" axis="0 1 0" range="-0.5 0.5" damping="{slide_damping}"/>
      <joint name="hand_z" armature="{HAND_ARMATURE["slide"]}" type="slide" axis="0 0 1" range="0 0.6" damping="{slide_damping}"/>
      <joint name="hand_yaw" armature="{HAND_ARMATURE["hinge"]}" type="hinge" axis="0 0 1" range="-1.6 1.6" damping="{yaw_damping}"/>
      <geom name="wrist" type="sphere" size="0.012" material="hand" {no_collision} mass="0.1"/>
      <body name="hand" gravcomp="1">
        <joint name="hand_tilt" armature="{HAND_ARMATURE["hinge"]}" type="hinge" axis="0 1 0" range="-0.3 2.95" damping="{tilt_damping}"/>
        <geom name="palm" type="box" size="{PALM_HALF} 0.03 0.04" material="hand" {no_collision} mass="0.2"/>
        <geom name="finger_l" type="box" size="0.03 0.005 0.012" pos="{finger_x - 0.012:.5f} {finger_y:.5f} 0.01"
              material="hand" {no_collision} mass="0.02"/>
        <geom name="finger_r" type="box" size="0.03 0.005 0.012" pos="{finger_x - 0.012:.5f} {-finger_y:.5f} 0.01"
              material="hand" {no_collision} mass="0.02"/>
        <geom name="forearm" type="capsule" size="0.016" fromto="-0.01 0 0.01 -0.09 0 0.11" material="hand"
              {no_collision} mass="0.1"/>
      </body>
    </body>
    <body name="bottle"><freejoint name="bottle"/>
      {chr(10).join(bottle)}
    </body>
    <body name="cup" pos="0.1 0 0"><freejoint name="cup"/>
      {chr(10).join(g.replace("/>", ' density="1500"/>') for g in cup)}
    </body>
    {drops}
  </worldbody>
  <equality>
    <weld name="grasp" body1="hand" body2="bottle" relpose="{grasp} 1 0 0 0" active="false" solref="0.02 1"/>
  </equality>
  <actuator>
    <position name="hand_x" joint="hand_x" kp="{slide_kp}" ctrlrange="-0.6 0.6" forcerange="-400 400"/>
    <position name="hand_y" joint="hand_y" kp="{slide_kp}" ctrlrange="-0.5 0.5" forcerange="-400 400"/>
    <position name="hand_z" joint="hand_z" kp="{slide_kp}" ctrlrange="0 0.6" forcerange="-400 400"/>
    <position name="hand_yaw" joint="hand_yaw" kp="{yaw_kp}" ctrlrange="-1.6 1.6" forcerange="-40 40"/>
    <position name="hand_tilt" joint="hand_tilt" kp="{tilt_kp}" ctrlrange="-0.3 2.95" forcerange="-40 40"/>
  </actuator>
</mujoco>
"""


class SceneIndex:
    """Ids of the scene's parts in one compiled model, and the geometric queries on them."""

    def __init__(self, model: Any):
        self.mujoco = import_mujoco()
        self.bottle = model.body("bottle").id
        self.cup = model.body("cup").id
        self.hand = model.body("hand").id
        self.table = model.geom("table").id
        self.drops = np.array([model.body(f"drop_{i:02d}").id for i in range(NUM_DROPS)])
        self.drop_dof = np.array([model.joint(f"drop_{i:02d}").dofadr[0] for i in range(NUM_DROPS)])
        self.bottle_geoms = np.flatnonzero(model.geom_bodyid == self.bottle)
        self.is_bottle_geom = model.geom_bodyid == self.bottle  # [ngeom] bool
        self.palm = model.geom("palm").id
        self.grasp = model.equality("grasp").id
        self.hand_qpos = np.array([model.joint(name).qposadr[0] for name in HAND_JOINTS])
        self.hand_dof = np.array([model.joint(name).dofadr[0] for name in HAND_JOINTS])

    def bottle_pose(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        """The bottle's frame: origin [3] and rotation [3, 3] (columns: its axes in world coordinates)."""
        return data.xpos[self.bottle].copy(), data.xmat[self.bottle].reshape(3, 3).copy()

    def drops_inside(self, data: Any) -> np.ndarray:
        """[NUM_DROPS] bool: the drop's centre is within the bottle (walls, shoulder or neck)."""
        origin, rotation = self.bottle_pose(data)
        local = (data.xpos[self.drops] - origin) @ rotation  # [N, 3] in the bottle's frame
        within = np.abs(local[:, :2]).max(axis=1) < BOTTLE_INNER + 0.25 * DROP_RADIUS
        return within & (local[:, 2] > 0.0) & (local[:, 2] < BOTTLE_TOP)

    def tilt(self, data: Any) -> float:
        """Angle (radians) between the bottle's axis and the vertical: 0 upright, pi upside down."""
        return float(np.arccos(np.clip(data.xmat[self.bottle][8], -1.0, 1.0)))

    def mouth(self, data: Any) -> np.ndarray:
        """The centre [3] of the bottle's mouth, world coordinates."""
        origin, rotation = self.bottle_pose(data)
        return origin + rotation[:, 2] * BOTTLE_TOP

    def hand_gap(self, model: Any, data: Any, limit: float = 0.05) -> float:
        """Distance (m) between the palm and the nearest bottle geom, at most ``limit``."""
        mujoco = self.mujoco
        # Only the geoms whose bounding spheres come within the limit: usually none or a few.
        centres = np.linalg.norm(data.geom_xpos[self.bottle_geoms] - data.geom_xpos[self.palm], axis=1)
        near = centres - model.geom_rbound[self.bottle_geoms] - model.geom_rbound[self.palm] < limit
        distances = [
            mujoco.mj_geomDistance(model, data, self.palm, int(g), limit, None) for g in self.bottle_geoms[near]
        ]
        return float(min(distances, default=limit))

    def bottle_on_table(self, data: Any) -> bool:
        """Some bottle geom touches the table (a contact in ``data``)."""
        if data.ncon == 0:
            return False
        pairs = data.contact.geom[: data.ncon]  # [ncon, 2]
        with_table = (pairs == self.table).any(axis=1)
        with_bottle = self.is_bottle_geom[pairs].any(axis=1)
        return bool((with_table & with_bottle).any())

    def tilt_rate(self, model: Any, data: Any) -> float:
        """d(tilt)/dt (rad/s): positive while the bottle tips further over."""
        velocity = np.zeros(6)  # [angular(3), linear(3)], world frame
        self.mujoco.mj_objectVelocity(model, data, self.mujoco.mjtObj.mjOBJ_BODY, self.bottle, velocity, 0)
        omega, axis = velocity[:3], data.xmat[self.bottle][[2, 5, 8]]  # the bottle's z axis
        # The axis turns at omega x axis; tilt = arccos(axis_z), so d(tilt)/dt = -(omega x axis)_z / sin(tilt).
        axis_z_rate = omega[0] * axis[1] - omega[1] * axis[0]
        return -float(axis_z_rate) / max(float(np.sqrt(max(1.0 - axis[2] ** 2, 0.0))), 1e-6)

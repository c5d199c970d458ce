"""Surface materials: ids, LiDAR reflectivity and how the camera shades them.

Each scene triangle carries one material id (plus a base colour).  The LiDAR
intensity of a return is the material's reflectivity times an incidence
term; the renderer adds procedural texture (asphalt noise, lane markings,
paving, windows, foliage) by material.
"""
from __future__ import annotations

import numpy as np

ASPHALT, SIDEWALK, KERB, GRASS, FACADE, ROOF, FOLIAGE, BARK, PAINT, GLASS, TIRE, TAIL_LIGHT, HEAD_LIGHT, PLATE, \
    TRIM, SKIN, CLOTH, HAIR, BIKE, HELMET, TREELINE = range(21)

NAMES = ("asphalt", "sidewalk", "kerb", "grass", "facade", "roof", "foliage", "bark", "paint", "glass", "tire",
         "tail_light", "head_light", "plate", "trim", "skin", "cloth", "hair", "bike", "helmet", "treeline")

#: LiDAR reflectivity in [0, 1] (KITTI's intensity scale), by material id.
REFLECTIVITY = np.array([
    0.12,  # asphalt (lane markings: see LANE_MARKING_REFLECTIVITY)
    0.30,  # sidewalk
    0.35,  # kerb
    0.45,  # grass
    0.30,  # facade
    0.20,  # roof
    0.40,  # foliage
    0.25,  # bark
    0.22,  # paint
    0.05,  # glass
    0.04,  # tire
    0.60,  # tail light (retro-reflector)
    0.55,  # head light
    0.95,  # number plate (retro-reflective)
    0.08,  # trim
    0.35,  # skin
    0.28,  # cloth
    0.15,  # hair
    0.30,  # bike
    0.40,  # helmet
    0.40,  # treeline
], dtype=np.float32)
LANE_MARKING_REFLECTIVITY = 0.75

#: Probability that a LiDAR pulse passes through instead of returning (glass).
TRANSMISSION = np.zeros(len(NAMES), dtype=np.float32)
TRANSMISSION[GLASS] = 0.6

#: Strength of the mirror-like sky reflection in the camera image.
SPECULAR = np.zeros(len(NAMES), dtype=np.float32)
SPECULAR[PAINT] = 0.12
SPECULAR[GLASS] = 0.22
SPECULAR[HELMET] = 0.10
SPECULAR[TAIL_LIGHT] = 0.10
SPECULAR[HEAD_LIGHT] = 0.25

#: Emission added by lamps (they look lit).
EMISSIVE = np.zeros(len(NAMES), dtype=np.float32)
EMISSIVE[TAIL_LIGHT] = 0.20
EMISSIVE[HEAD_LIGHT] = 0.15

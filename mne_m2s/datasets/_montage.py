"""The 62-channel SEED montage, shared by SEED, SEED-IV, SEED-V and SyntheticEmotion.

One module so that channel names and positions agree everywhere: a feature
extractor fitted on :class:`~mne_m2s.datasets.SyntheticEmotion` raw data
transforms real SEED / SEED-IV raw data (same names, same order, same
positions).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Row order of every 62-row array of SEED, SEED-IV and SEED-V, with MNE's
#: capitalisation of the 10-05 names (the releases write them in upper case).
SEED_CHANNELS = (
    "Fp1 Fpz Fp2 AF3 AF4 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8 "
    "T7 C5 C3 C1 Cz C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 P7 P5 P3 P1 Pz P2 P4 P6 "
    "P8 PO7 PO5 PO3 POz PO4 PO6 PO8 CB1 O1 Oz O2 CB2"
).split()

#: CB1 and CB2, the cerebellar electrodes of the Neuroscan Quik-Cap, have no
#: 10-05 name; they sit below O1 and O2 and take the positions of these
#: 10-05 sites (the closest ones; an approximation).
CEREBELLAR_STAND_INS = {"CB1": "I1", "CB2": "I2"}


@lru_cache(maxsize=1)
def _template():
    import mne

    # MNE 1.13 renamed 'standard_1005' to 'colin27_1005' (same positions).
    name = "colin27_1005"
    if name not in mne.channels.get_builtin_montages():
        name = "standard_1005"
    pos = mne.channels.make_standard_montage(name).get_positions()
    ch_pos = {k: np.asarray(v, float) for k, v in pos["ch_pos"].items()}
    for cb, site in CEREBELLAR_STAND_INS.items():
        ch_pos[cb] = ch_pos[site].copy()
    fid = {k: np.asarray(pos[k], float) for k in ("nasion", "lpa", "rpa")}
    return ch_pos, fid, pos["coord_frame"]


def _montage_of(ch_pos):
    import mne

    _, fid, frame = _template()
    return mne.channels.make_dig_montage(
        ch_pos={k: v.copy() for k, v in ch_pos.items()},
        coord_frame=frame,
        **{k: v.copy() for k, v in fid.items()},
    )


def make_seed_montage():
    """Template positions of the 62-channel SEED montage.

    The 60 channels with 10-05 names take the positions of MNE's template
    10-05 montage (``colin27_1005``, ``standard_1005`` before MNE 1.13).
    CB1 and CB2 take the positions of I1 and I2 (see
    :data:`CEREBELLAR_STAND_INS`).

    Returns
    -------
    montage : mne.channels.DigMontage
        Positions of the 62 channels of :data:`SEED_CHANNELS`.
    """
    ch_pos, _, _ = _template()
    return _montage_of({ch: ch_pos[ch] for ch in SEED_CHANNELS})


def eeg_montage():
    """The 10-05 template montage extended with SEED's CB1 and CB2.

    Used for every signal-level adapter (SEED family, DEAP, DREAMER,
    SyntheticEmotion), so that a channel name has one position in the whole
    package.

    Returns
    -------
    montage : mne.channels.DigMontage
    """
    ch_pos, _, _ = _template()
    return _montage_of(ch_pos)

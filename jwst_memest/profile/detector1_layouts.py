"""Detector layouts of calwebb_detector1 exposures: detector geometry, subarrays and readout patterns.

A ``Detector1Exposure`` is everything the uncal header and the references of one exposure depend on:
which detector and subarray (rows x columns of the raw SCI array, corner on the full frame), how it
is read out (pattern, frames per group, dropped frames between groups) and how many groups and
integrations. ``LAYOUTS`` names the modes the detector1 corpus covers; a plan picks one by name and
sets the exposure's groups, integrations and readout pattern.
"""

from __future__ import annotations

import dataclasses

__all__ = ["Detector1Exposure", "LAYOUTS", "READOUT_PATTERNS", "make_exposure", "frame_time"]

# readout pattern -> (frames averaged per group, frames dropped between groups)
READOUT_PATTERNS = {
    # NIRCam
    "RAPID": (1, 0), "BRIGHT1": (1, 1), "BRIGHT2": (2, 0), "SHALLOW2": (2, 3), "SHALLOW4": (4, 1),
    "MEDIUM2": (2, 8), "MEDIUM8": (8, 2), "DEEP2": (2, 18), "DEEP8": (8, 12),
    # MIRI
    "FASTR1": (1, 0), "SLOWR1": (1, 0), "FAST": (1, 0),
    # NIRSpec
    "NRSRAPID": (1, 0), "NRS": (4, 0), "NRSIRS2RAPID": (1, 0), "NRSIRS2": (5, 0),
    # NIRISS
    "NISRAPID": (1, 0), "NIS": (4, 0),
}


@dataclasses.dataclass(frozen=True)
class Detector1Exposure:
    """One calwebb_detector1 exposure: detector, subarray, readout, groups and integrations.

    Parameters
    ----------
    instrument, detector, exp_type, subarray : str
        INSTRUME, DETECTOR, EXP_TYPE and SUBARRAY.
    ny : int
        Rows of the raw SCI array (3200 for NIRSpec IRS2 full frame).
    nx : int
        Its columns.
    xstart, ystart : int, optional
        SUBSTRT1 and SUBSTRT2, 1-based on the full frame.
    fastaxis, slowaxis : int, optional
        FASTAXIS and SLOWAXIS.
    readpatt : str, optional
        READPATT, one of ``READOUT_PATTERNS``.
    ngroups, nints : int, optional
        NGROUPS and NINTS.
    tso : bool, optional
        Whether it is a time series.
    noutputs : int, optional
        Amplifier outputs reading the subarray.
    full_shape : tuple of int, optional
        Rows and columns of the detector's full frame (science pixels).
    """

    instrument: str
    detector: str
    exp_type: str
    subarray: str
    ny: int  # rows of the raw SCI array (3200 for NIRSpec IRS2 full frame)
    nx: int  # columns
    xstart: int = 1  # SUBSTRT1, 1-based on the full frame
    ystart: int = 1  # SUBSTRT2
    fastaxis: int = 1
    slowaxis: int = 2
    readpatt: str = "RAPID"
    ngroups: int = 5
    nints: int = 1
    tso: bool = False
    noutputs: int = 4
    full_shape: tuple[int, int] = (2048, 2048)  # rows, columns of the detector's full frame (science pixels)

    @property
    def nframes(self) -> int:
        """NFRAMES: frames averaged into a group by the readout pattern.

        Returns
        -------
        int
            Frames per group.
        """
        return READOUT_PATTERNS[self.readpatt][0]

    @property
    def groupgap(self) -> int:
        """GROUPGAP: frames dropped between groups by the readout pattern.

        Returns
        -------
        int
            Frames dropped.
        """
        return READOUT_PATTERNS[self.readpatt][1]

    @property
    def irs2(self) -> bool:
        """Whether the readout is NIRSpec IRS2 (reference pixels interleaved).

        Returns
        -------
        bool
            True for the NRSIRS2 patterns.
        """
        return self.readpatt.startswith("NRSIRS2")

    @property
    def ysize(self) -> int:
        """SUBSIZE2: the science rows (an IRS2 frame of 3200 rows has 2048 rows of pixels).

        Returns
        -------
        int
            Rows.
        """
        return 2048 if self.irs2 else self.ny

    @property
    def xsize(self) -> int:
        """SUBSIZE1: the science columns.

        Returns
        -------
        int
            Columns.
        """
        return self.nx

    @property
    def full_frame(self) -> bool:
        """Whether the exposure reads the detector's full frame.

        Returns
        -------
        bool
            True when its science rows and columns are ``full_shape``.
        """
        return (self.ysize, self.nx) == self.full_shape

    @property
    def frames(self) -> int:
        """Frames the readout spans: what a dark read at one frame per group must cover.

        Returns
        -------
        int
            Frames.
        """
        return self.ngroups * self.nframes + (self.ngroups - 1) * self.groupgap

    @property
    def ramp_samples(self) -> int:
        """Samples of the raw ramp: integrations x groups x rows x columns.

        Returns
        -------
        int
            Samples.
        """
        return self.nints * self.ngroups * self.ny * self.nx

    @property
    def uncal_bytes(self) -> int:
        """Bytes of the raw SCI array (uint16).

        Returns
        -------
        int
            Bytes.
        """
        return 2 * self.ramp_samples


def frame_time(exposure: Detector1Exposure) -> float:
    """Seconds per frame, from the pixel clock (10 us) and the columns each output reads.

    Close to the instruments' own (NIRCam full frame 10.74 s, MIRI full frame 2.78 s).

    Parameters
    ----------
    exposure : Detector1Exposure
        The exposure.

    Returns
    -------
    float
        Seconds.
    """
    if exposure.instrument == "MIRI":
        return 2.775 * (exposure.ny * exposure.nx) / (1024 * 1032)
    outputs = exposure.noutputs if exposure.full_frame or exposure.nx == 2048 else 1
    return (exposure.nx / outputs + 12) * (exposure.ny + 1) * 10e-6


_NIRCAM_SW = dict(instrument="NIRCAM", detector="NRCA1", fastaxis=-1, slowaxis=2, readpatt="RAPID")
_NIRCAM_LW = dict(instrument="NIRCAM", detector="NRCALONG", fastaxis=-1, slowaxis=2, readpatt="RAPID")
_MIRI = dict(instrument="MIRI", detector="MIRIMAGE", fastaxis=1, slowaxis=2, readpatt="FASTR1",
             full_shape=(1024, 1032), noutputs=4)
_NIRSPEC = dict(instrument="NIRSPEC", detector="NRS1", fastaxis=2, slowaxis=1, readpatt="NRSRAPID")
_NIRISS = dict(instrument="NIRISS", detector="NIS", fastaxis=-2, slowaxis=-1, readpatt="NISRAPID")

# name -> the fixed part of an exposure (groups, integrations and pattern are the plan's)
LAYOUTS: dict[str, dict] = {
    "nircam_full": dict(_NIRCAM_SW, exp_type="NRC_IMAGE", subarray="FULL", ny=2048, nx=2048),
    "nircam_sub640": dict(_NIRCAM_SW, exp_type="NRC_IMAGE", subarray="SUB640", ny=640, nx=640,
                          xstart=1409, ystart=1409, noutputs=1),
    "nircam_sub160": dict(_NIRCAM_SW, exp_type="NRC_IMAGE", subarray="SUB160", ny=160, nx=160,
                          xstart=1889, ystart=1889, noutputs=1),
    "nircam_sub64p": dict(_NIRCAM_SW, exp_type="NRC_TSIMAGE", subarray="SUB64P", ny=64, nx=64,
                          xstart=1985, ystart=1985, noutputs=1, tso=True),
    "nircam_tso_grism": dict(_NIRCAM_LW, exp_type="NRC_TSGRISM", subarray="SUBGRISM256", ny=256, nx=2048,
                             xstart=1, ystart=1793, tso=True),
    "miri_full": dict(_MIRI, exp_type="MIR_IMAGE", subarray="FULL", ny=1024, nx=1032),
    "miri_sub256": dict(_MIRI, exp_type="MIR_IMAGE", subarray="SUB256", ny=256, nx=256, xstart=413, ystart=51,
                        noutputs=1),
    "miri_tso_sub256": dict(_MIRI, exp_type="MIR_IMAGE", subarray="SUB256", ny=256, nx=256, xstart=413,
                            ystart=51, noutputs=1, tso=True),
    "nirspec_full": dict(_NIRSPEC, exp_type="NRS_FIXEDSLIT", subarray="FULL", ny=2048, nx=2048),
    "nirspec_irs2": dict(_NIRSPEC, exp_type="NRS_MSASPEC", subarray="FULL", ny=3200, nx=2048,
                         readpatt="NRSIRS2RAPID"),
    "nirspec_bots_sub2048": dict(_NIRSPEC, exp_type="NRS_BRIGHTOBJ", subarray="SUB2048", ny=32, nx=2048,
                                 xstart=1, ystart=1009, tso=True),
    "nirspec_bots_sub1024a": dict(_NIRSPEC, exp_type="NRS_BRIGHTOBJ", subarray="SUB1024A", ny=32, nx=1024,
                                  xstart=1025, ystart=1009, noutputs=1, tso=True),
    "niriss_full": dict(_NIRISS, exp_type="NIS_IMAGE", subarray="FULL", ny=2048, nx=2048),
    "niriss_soss_substrip256": dict(_NIRISS, exp_type="NIS_SOSS", subarray="SUBSTRIP256", ny=256, nx=2048,
                                    xstart=1, ystart=1793, tso=True),
}


def make_exposure(layout: str, **values) -> Detector1Exposure:
    """The named layout with the plan's values (ngroups, nints, readpatt, ...) on top.

    Parameters
    ----------
    layout : str
        One of ``LAYOUTS``.
    **values
        Fields of `Detector1Exposure` to set.

    Returns
    -------
    Detector1Exposure
        The exposure.

    Raises
    ------
    ValueError
        For an unknown layout, readout pattern or field.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown detector1 layout {layout!r}; known: {', '.join(LAYOUTS)}")
    fields = {f.name for f in dataclasses.fields(Detector1Exposure)}
    unknown = set(values) - fields
    if unknown:
        raise ValueError(f"layout {layout}: unknown fields {sorted(unknown)}")
    exposure = Detector1Exposure(**{**LAYOUTS[layout], **values})
    if exposure.readpatt not in READOUT_PATTERNS:
        raise ValueError(f"unknown readout pattern {exposure.readpatt!r}")
    return exposure

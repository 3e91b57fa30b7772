"""Header-only observations spacekit's JWST cal features were computed on (tests/data/spacekit/).

Each layout is written to its own folder; spacekit groups each folder's exposures into its
Level-3 products, and the stored features are checked against this project's for the same members.
The writer is deterministic: the files written here are the files spacekit read.
"""

from jwst_memest.example import EXAMPLE_LAYOUT
from jwst_memest.exposures import ExposureLayout

IMAGE_LAYOUTS = {
    "nircam_sw_module_a": EXAMPLE_LAYOUT,
    "nircam_lw_both_modules": ExposureLayout(program=2001, observation=2, detectors=("NRCALONG", "NRCBLONG"),
                                             filter="F444W", pupil="CLEAR", dither_points=3, mosaic_tiles=(2, 1),
                                             tile_step_arcsec=120.0, roll=40.0),
    "miri_image_mosaic": ExposureLayout(program=2002, observation=3, detectors=("MIRIMAGE",), filter="F770W",
                                        pupil="N/A", dither_points=4, dither_step_arcsec=5.0, mosaic_tiles=(2, 2),
                                        tile_step_arcsec=70.0, roll=120.0, target_dec=12.5),
    "niriss_image_offset_target": ExposureLayout(program=2003, observation=4, exp_type="NIS_IMAGE",
                                                 detectors=("NIS",), filter="CLEAR", pupil="F150W", dither_points=6,
                                                 dither_step_arcsec=8.0, target_ra=210.8, target_dec=54.3,
                                                 extra={"TARG_RA": 210.81, "TARG_DEC": 54.31}),
    "nircam_subarray_parallel": ExposureLayout(program=2004, observation=5, detectors=("NRCB1",), filter="F200W",
                                               subarray="SUB640", subarray_shape=(640, 640),
                                               visit_type="PARALLEL_PURE", dither_points=2, target_dec=-70.2),
    "miri_unseen_filter": ExposureLayout(program=2005, observation=6, detectors=("MIRIMAGE",), filter="F2550W",
                                         pupil="N/A", dither_points=2, visit_type="PRIME_UNTARGETED",
                                         extra={"FILTER": "F999W", "BKGDTARG": True}),
}

SPEC_LAYOUTS = {
    "nirspec_ifu": ExposureLayout(program=3001, observation=1, exp_type="NRS_IFU", detectors=("NRS1", "NRS2"),
                                  filter="F290LP", pupil="N/A", grating="G395H", dither_points=4,
                                  dither_step_arcsec=0.4, target_ra=150.1, target_dec=2.2),
    "miri_mrs": ExposureLayout(program=3002, observation=2, exp_type="MIR_MRS", detectors=("MIRIFUSHORT", "MIRIFULONG"),
                               filter="N/A", pupil="N/A", band="SHORT", dither_points=4, dither_step_arcsec=0.5,
                               target_ra=83.8, target_dec=-5.4),
    "nirspec_mos": ExposureLayout(program=3003, observation=3, exp_type="NRS_MSASPEC", detectors=("NRS1", "NRS2"),
                                  filter="CLEAR", pupil="N/A", grating="PRISM", subarray="ALLSLITS", dither_points=3,
                                  dither_step_arcsec=0.5, target_ra=53.1, target_dec=-27.8),
    "niriss_wfss": ExposureLayout(program=3004, observation=4, exp_type="NIS_WFSS", detectors=("NIS",),
                                  filter="GR150R", pupil="F150W", dither_points=2, dither_step_arcsec=4.0),
    "miri_lrs_fixed_slit": ExposureLayout(program=3005, observation=5, exp_type="MIR_LRS-FIXEDSLIT",
                                          detectors=("MIRIMAGE",), filter="P750L", pupil="N/A", dither_points=2,
                                          dither_step_arcsec=1.5, roll=200.0),
}

LAYOUTS = {"image": IMAGE_LAYOUTS, "spec": SPEC_LAYOUTS}

"""The readout an uncal header describes: pattern, frames per group, dropped frames, raw rows."""

import numpy as np
from astropy.io import fits

from jwst_memest.metadata import IRS2_RAW_ROWS, read_exposure_metadata


def _uncal(path, readpatt, nframes, groupgap, sci_shape=None, subsize=(2048, 2048)):
    primary = fits.PrimaryHDU()
    primary.header.update({"INSTRUME": "NIRSPEC", "DETECTOR": "NRS1", "EXP_TYPE": "NRS_IFU", "READPATT": readpatt,
                           "NFRAMES": nframes, "GROUPGAP": groupgap, "NGROUPS": 7, "NINTS": 3,
                           "SUBSIZE1": subsize[0], "SUBSIZE2": subsize[1]})
    hdus = [primary]
    if sci_shape is not None:
        hdus.append(fits.ImageHDU(np.zeros(sci_shape, dtype=np.uint16), name="SCI"))
    fits.HDUList(hdus).writeto(path)
    return read_exposure_metadata(path)


def test_the_readout_is_read_from_the_header(tmp_path):
    meta = _uncal(tmp_path / "jw01234001001_01101_00001_nrs1_uncal.fits", "NRS", 4, 0)
    assert (meta.readout_pattern, meta.n_frames, meta.group_gap, meta.n_groups, meta.n_integrations) == ("NRS", 4, 0, 7, 3)
    assert meta.raw_rows == meta.nrows == 2048


def test_irs2_ramps_have_reference_rows_interleaved(tmp_path):
    header_only = _uncal(tmp_path / "jw01234001001_01101_00001_nrs1_uncal.fits", "NRSIRS2RAPID", 1, 0)
    assert header_only.nrows == 2048 and header_only.raw_rows == IRS2_RAW_ROWS
    with_data = _uncal(tmp_path / "jw01234001001_01101_00002_nrs1_uncal.fits", "NRSIRS2RAPID", 1, 0,
                       sci_shape=(1, 2, 40, 16), subsize=(16, 32))
    assert with_data.raw_rows == 40  # the ramp's own rows, where the file has them

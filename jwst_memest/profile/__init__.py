"""Ground truth: run real Level-3 pipelines on synthetic exposures and measure their peak memory."""

"""The tiny networks every test builds: plain constants, importable where a fixture cannot reach
(`pytest.mark.parametrize`, module-level flag lists). Everything else tests share is a fixture in
conftest.py."""

TINY_OPTIONS = {
    "btsrn": dict(low_blocks=1, high_blocks=1, width=8, bottleneck=4),
    "edsr_baseline": dict(num_blocks=1, num_features=8),
    "mdsr_baseline": dict(num_blocks=1, num_features=8),
}
TINY_BTSRN, TINY_EDSR = TINY_OPTIONS["btsrn"], TINY_OPTIONS["edsr_baseline"]
TINY_BTSRN_FLAGS = [f"--{k}={v}" for k, v in TINY_BTSRN.items()]

"""Start-up cost of every `ecomlake` process: the CLI must not import what only some commands need."""

import subprocess
import sys


def test_the_cli_does_not_import_the_generator_or_pandas():
    # The Bronze generator pulls in pandas (about 0.3 s of CPU per process): only `bronze generate`
    # and `sample package` need it, and a day's pipeline starts several `ecomlake` processes.
    code = (
        "import sys, ecomlake.cli.main\n"
        "print(sorted(m for m in ('pandas', 'ecomlake.bronze.generator', 'ecomlake.bronze.gen_world') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""`python -m async_invoke_config drift --stack NAME`: the read-only drift report (see `cli`). Imports boto3 and the
handler's modules only, never aws-cdk-lib."""

import sys
from pathlib import Path

# The handler's modules import each other by their plain names, as in Lambda: their folder goes first on the path.
sys.path.insert(0, str(Path(__file__).resolve().parent / "handler"))

try:
    from .cli import main
except ModuleNotFoundError as missing:
    if missing.name not in ("boto3", "botocore"):
        raise
    print(f"python -m async_invoke_config: the drift report needs {missing.name}: pip install boto3", file=sys.stderr)
    sys.exit(2)

sys.exit(main())

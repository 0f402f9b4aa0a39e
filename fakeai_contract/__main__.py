"""python -m fakeai_contract → cli.main()."""

import sys

from fakeai_contract.cli import main

sys.exit(main())

import sys

from pfocr.cli import main

sys.exit(main())

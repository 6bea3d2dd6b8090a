"""`python -m kb` — search, look up and verify citations, ask, and train, from the shell.

python -m kb search "QUESTION" [--k N] [--json] [--type statute ...] [--law 民法典] [--valid]
python -m kb search --stdin            one question per line → one JSON object per line
python -m kb cite "TEXT" [--json]      every citation in TEXT with its verification status
python -m kb article "个保法第13条"      the text of one article
python -m kb citing "个人信息保护法第七十条"  cases and reports that cite an article
python -m kb status                    what the knowledge base holds
"""

from __future__ import annotations

import sys

from kb.cli import main

if __name__ == "__main__":
    sys.exit(main())

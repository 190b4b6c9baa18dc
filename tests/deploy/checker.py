"""The ok/FAIL line printer shared by the tests/deploy check scripts."""


class Checker:
    """Prints `ok   WHAT` or `FAIL WHAT` per check and counts them."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

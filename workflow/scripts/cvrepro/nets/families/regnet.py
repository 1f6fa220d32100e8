"""RegNet (X and Y): stem, four stages in trunk_output, linear classifier fc."""

from cvrepro.nets.families.kind import Family

KIND = Family(head="fc", stages=("stem", "trunk_output.*"))

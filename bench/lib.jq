# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# jq definitions the benchmark reports share (bench/run.sh, bench/vm.sh):
#   jq -L bench 'include "lib"; ...'

# The median of an array of numbers; null for an empty one.
def median: sort | if length == 0 then null elif length % 2 == 1 then .[length / 2 | floor]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;

# A number rounded to n decimals, as a string; "-" for null.
def f(n): if . == null then "-" else (. * pow(10; n) | round) / pow(10; n) | tostring end;

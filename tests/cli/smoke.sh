#!/usr/bin/env bash
# The CLI's basics: smoke run, unknown command/option/model give one line and a non-zero exit.
# $1: the convnet binary.
set -u
cn="$1"
. "$(dirname "$0")/lib/check.sh"

out=$("$cn" smoke 2>&1); rc=$?
check "smoke exits 0" '[ $rc -eq 0 ]'
check "smoke prints the LeNet-5 loss" '[[ "$out" == *"model lenet5, batch 8, 1256080 parameters: loss 2."* ]]'
out2=$("$cn" smoke 2>&1)
check "same seed, same loss" '[ "$out" = "$out2" ]'
out=$("$cn" smoke --model nope 2>&1); rc=$?
check "unknown model exits 1" '[ $rc -eq 1 ]'
check "unknown model named" '[[ "$out" == *"unknown model '"'"'nope'"'"'"* ]] && [ $(echo "$out" | wc -l) -eq 1 ]'
out=$("$cn" smoke --frobnicate 2>&1); rc=$?
check "unknown option exits 2" '[ $rc -eq 2 ] && [[ "$out" == *"unknown option '"'"'--frobnicate'"'"'"* ]]'
out=$("$cn" smoke --batch zero 2>&1); rc=$?
check "bad number exits 2" '[ $rc -eq 2 ] && [[ "$out" == *"--batch"* ]]'
out=$("$cn" nosuchcommand 2>&1); rc=$?
check "unknown command exits 2" '[ $rc -eq 2 ] && [[ "$out" == *"unknown command"* ]]'
out=$("$cn" version); check "version" '[[ "$out" == "convnet "* ]]'
finish

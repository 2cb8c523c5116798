#!/bin/sh
# Fails on purpose when FAIL=true, to show which step broke.
echo "hardening"
if [ "$FAIL" = true ]; then
  echo "auditd: rules do not load" >&2
  exit 3
fi

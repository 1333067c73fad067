#!/usr/bin/env node
// The `socketcloud` command; filled in by the CLI work.
export {}

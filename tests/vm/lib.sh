# SPDX-License-Identifier: MIT
# Shared by tests/vm/*.sh and bench/*.sh: where the cached VM images live.
#
# The cache key is a hash of every input of build-image.sh (the script and tests/vm/guest/), so a change to them
# builds a new image instead of silently reusing an old one.
VM_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_CACHE_ROOT=${AZL_VM_CACHE:-/var/cache/azl-agent-vm}
vm_cache_key() {
        (cd "$VM_SRC" && cat build-image.sh guest/* | sha256sum | cut -c1-12)
}
VM_CACHE=$VM_CACHE_ROOT/$(vm_cache_key)

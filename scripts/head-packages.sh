#!/bin/bash
# Install every Debian package a Hangar head needs to run guests and build images.
# Non-interactive, quiet and idempotent: packages already present are not touched, and
# apt-get update only runs when something is missing. Run as root (or through sudo).
set -euo pipefail

PACKAGES=(
  qemu-system-x86          # qemu-system-x86_64 (TCG or KVM)
  qemu-utils               # qemu-img
  genisoimage              # the cidata config drive (ISO9660)
  busybox-static           # tiny image: userland
  dropbear-bin             # tiny image: SSH server
  linux-image-cloud-amd64  # guest kernel + modules, booted directly (-kernel)
  kmod                     # modprobe --show-depends / depmod for the guest module tree
  debootstrap              # bookworm image
  e2fsprogs                # mke2fs -d: ext4 root without mounting
  openssh-client           # ssh / ssh-keygen (tests, users)
  nftables                 # nft: firewall rules on bridged guests' taps
  sshpass                  # tests: SSH login with a reset root password
  openssl                  # openssl passwd -6, a CA and certificates (tests)
  ca-certificates
  isolinux                 # tests: a bootable ISO (booting a guest from its CD)
  syslinux-common          # tests: isolinux's ldlinux.c32
)

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo -E"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "head-packages: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi
echo "head-packages: installing ${missing[*]}"
APT_OPTS=(-q -y -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get "${APT_OPTS[@]}" update && $SUDO apt-get "${APT_OPTS[@]}" install --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "head-packages: apt-get failed" >&2
  exit 1
fi
echo "head-packages: done"

# Shared shell helpers for the tools in this folder. Sourced, never run.

# Where built guest kernels, initramfs images and the rig's own files live.
# Outside the source tree so a clean clone (and `git clean`) keeps them.
KESTREL_CACHE="${KESTREL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kestrel}"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
log() { echo "$(basename "$0"): $*" >&2; }

# The newest Debian 6.1 kernel package the configured apt sources offer.
newest_kernel_package() {
	apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' |
		awk '{print $1}' | sort -V | tail -n 1
}

# Copy an executable and every shared library it needs (per ldd) into a root.
copy_with_libs() {
	local root=$1 bin=$2 lib
	install -D -m 0755 "$bin" "$root$bin"
	for lib in $(ldd "$bin" 2>/dev/null | grep -o '/[^ ]*'); do
		[ -e "$root$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
	done
}

# Copy a module and everything it depends on (resolved by modprobe from the
# package's own depmod metadata) into an initramfs root, and append the load
# order to $root/etc/modules.order.
add_modules() {
	local root=$1 kroot=$2 kver=$3 mod line path
	shift 3
	for mod in "$@"; do
		modprobe -d "$kroot" -S "$kver" --show-depends "$mod" |
			while read -r line; do
				case $line in
				insmod*) path=${line#insmod }; path=${path%% *} ;;
				*) continue ;;
				esac
				rel=${path#"$kroot"}
				grep -qxF "$rel" "$root/etc/modules.order" 2>/dev/null && continue
				install -D -m 0644 "$path" "$root$rel"
				echo "$rel" >>"$root/etc/modules.order"
			done
	done
}

# Pack a directory as a newc cpio archive (uncompressed: the guest unpacks it
# with a memcpy, which is faster than any decompressor at this size).
pack_initramfs() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$2.tmp"
	mv "$2.tmp" "$2"
}

# Hangar config drive, guest side (docs/config-drive.md). Shared by every image; sourced by the
# image's own boot scripts (busybox ash in tiny, dash in bookworm), never run on its own.
#
#   cidata_fetch        find the ISO labelled cidata, copy its files to $CIDATA (returns 1 if none)
#   cidata_identity     once per instance-id: hostname, root password hash, authorized_keys
#   cidata_network      parse the `network` file into NET_MODE (dhcp|static|none) NET_MAC NET_IPV4 ...
#   cidata_user_data    once per instance-id, after the rest: run user-data, then remember the id
#   cidata_user_data_is_cloud_init  true when the drive's user-data is cloud-init's (not run by cidata_user_data)
#   hangar_say          a line on the serial console (and in the log)

HANGAR_STATE=/var/lib/hangar
HANGAR_RUN=/run/hangar
CIDATA=$HANGAR_RUN/cidata
HANGAR_LOG=/var/log/hangar.log

hangar_say() {
	echo "hangar: $*" >> "$HANGAR_LOG" 2>/dev/null
	if [ -c /dev/ttyS0 ]; then echo "hangar: $*" > /dev/ttyS0 2>/dev/null; else echo "hangar: $*" >&2; fi
}

cidata_find() {
	findfs LABEL=cidata 2>/dev/null || findfs LABEL=CIDATA 2>/dev/null || blkid -L cidata 2>/dev/null
}

cidata_fetch() {
	rm -rf "$CIDATA"
	mkdir -p "$CIDATA" "$HANGAR_RUN/mnt" "$HANGAR_STATE"
	chmod 700 "$HANGAR_RUN" "$HANGAR_STATE"
	dev=""
	i=0
	while [ $i -lt 30 ]; do # the disc may still be probing: up to ~3 s
		dev=$(cidata_find) && [ -n "$dev" ] && break
		dev=""
		i=$((i + 1))
		sleep 0.1
	done
	if [ -z "$dev" ]; then
		hangar_say "no config drive (label cidata)"
		return 1
	fi
	if ! mount -t iso9660 -o ro "$dev" "$HANGAR_RUN/mnt" 2>/dev/null && ! mount -o ro "$dev" "$HANGAR_RUN/mnt"; then
		hangar_say "cannot mount the config drive $dev"
		return 1
	fi
	cp "$HANGAR_RUN/mnt"/* "$CIDATA"/ 2>/dev/null
	umount "$HANGAR_RUN/mnt"
	chmod 600 "$CIDATA"/* 2>/dev/null
	# the instance: its id, or a digest of the drive when it has none
	if [ -s "$CIDATA/instance-id" ]; then
		HANGAR_IID=$(head -n 1 "$CIDATA/instance-id")
	else
		HANGAR_IID=sum-$(cat "$CIDATA"/* 2>/dev/null | md5sum | cut -c1-16)
	fi
	echo "$HANGAR_IID" > "$HANGAR_RUN/instance-id"
	hangar_say "config drive $dev, instance $HANGAR_IID$(cidata_is_new || echo ' (already applied)')"
	return 0
}

# true when the drive's instance has not been applied yet on this disc
cidata_is_new() {
	[ -s "$HANGAR_RUN/instance-id" ] || return 1
	[ "$(cat "$HANGAR_RUN/instance-id")" != "$(cat "$HANGAR_STATE/instance-id" 2>/dev/null)" ]
}

cidata_identity() {
	cidata_is_new || return 0
	if [ -s "$CIDATA/hostname" ]; then
		fqdn=$(head -n 1 "$CIDATA/hostname" | tr -cd 'A-Za-z0-9.-')
		short=${fqdn%%.*}
		if [ -n "$fqdn" ]; then
			# the kernel keeps at most 64 characters: longer names keep the full one in /etc/hosts only
			if [ ${#fqdn} -le 64 ]; then echo "$fqdn" > /etc/hostname; else echo "$short" > /etc/hostname; fi
			hostname "$(cat /etc/hostname)"
			grep -v '^127\.0\.1\.1[[:space:]]' /etc/hosts > /etc/hosts.hangar 2>/dev/null
			if [ "$fqdn" = "$short" ]; then
				echo "127.0.1.1	$fqdn" >> /etc/hosts.hangar
			else
				echo "127.0.1.1	$fqdn $short" >> /etc/hosts.hangar
			fi
			cat /etc/hosts.hangar > /etc/hosts && rm -f /etc/hosts.hangar
			hangar_say "hostname $fqdn"
		fi
	fi
	if [ -s "$CIDATA/root-password-hash" ]; then
		hash=$(head -n 1 "$CIDATA/root-password-hash" | tr -d '[:space:]')
		case "$hash" in
		'$'[0-9a-z]*'$'*)
			if echo "$hash" | grep -q '^[$./0-9A-Za-z=,-]*$'; then
				if grep -q '^root:' /etc/shadow; then
					sed -i "s|^root:[^:]*:|root:$hash:|" /etc/shadow
				else
					echo "root:$hash:19000:0:99999:7:::" >> /etc/shadow
				fi
				chmod 640 /etc/shadow 2>/dev/null
				hangar_say "root password set"
			else
				hangar_say "root-password-hash ignored: not a crypt hash"
			fi
			;;
		*) hangar_say "root-password-hash ignored: not a crypt hash" ;;
		esac
	fi
	if [ -f "$CIDATA/authorized_keys" ]; then
		mkdir -p /root/.ssh
		chmod 700 /root/.ssh
		cp "$CIDATA/authorized_keys" /root/.ssh/authorized_keys
		chmod 600 /root/.ssh/authorized_keys
		chown -R 0:0 /root/.ssh
		hangar_say "authorized_keys: $(grep -c . /root/.ssh/authorized_keys) key(s)"
	fi
}

cidata_network() {
	NET_MODE=dhcp NET_MAC='' NET_IPV4='' NET_GATEWAY4='' NET_IPV6='' NET_GATEWAY6='' NET_DNS=''
	[ -f "$CIDATA/network" ] || return 0
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line#export }
		case "$line" in *=*) ;; *) continue ;; esac
		key=${line%%=*}
		val=${line#*=}
		val=${val#\"}
		val=${val%\"}
		val=${val#\'}
		val=${val%\'}
		case "$key" in
		MODE) NET_MODE=$val ;;
		MAC) NET_MAC=$(echo "$val" | tr 'A-F' 'a-f') ;;
		IPV4) NET_IPV4=$val ;;
		GATEWAY4) NET_GATEWAY4=$val ;;
		IPV6) NET_IPV6=$val ;;
		GATEWAY6) NET_GATEWAY6=$val ;;
		DNS | NAMESERVERS) NET_DNS=$(echo "$val" | tr ',' ' ') ;;
		esac
	done < "$CIDATA/network"
	case "$NET_MODE" in dhcp | static | none) ;; *)
		hangar_say "network: unknown MODE=$NET_MODE, using dhcp"
		NET_MODE=dhcp
		;;
	esac
}

# the interface to configure: the one with $NET_MAC, else the first ethernet one
net_primary_interface() {
	first=""
	for d in /sys/class/net/*; do
		n=${d##*/}
		[ "$n" = lo ] && continue
		[ -e "$d/device" ] || continue
		[ -z "$first" ] && first=$n
		if [ -n "$NET_MAC" ] && [ "$(cat "$d/address" 2>/dev/null)" = "$NET_MAC" ]; then
			echo "$n"
			return 0
		fi
	done
	[ -n "$first" ] && echo "$first"
}

# cloud-init's formats, a `#!` script aside, as cloud-init tells them (first non-blank text, any case);
# core/images.ts isCloudInitData is the same test
cidata_user_data_is_cloud_init() {
	[ -s "$CIDATA/user-data" ] || return 1
	start=$(head -c 4096 "$CIDATA/user-data" | tr -d '\r' | sed -n '/[^[:space:]]/{s/^[[:space:]]*//;p;q;}' | tr 'A-Z' 'a-z')
	case "$start" in
	'#cloud-config'* | '#include'* | '#cloud-boothook'* | '#part-handler'* | '## template: jinja'* | content-type:* | mime-version:*) return 0 ;;
	esac
	return 1
}

cidata_user_data() {
	cidata_is_new || return 0
	if cidata_user_data_is_cloud_init; then
		if command -v cloud-init > /dev/null 2>&1; then
			hangar_say "user-data is cloud-init's: applied by cloud-init"
		else
			hangar_say "user-data is cloud-init's and this image has no cloud-init: not run"
		fi
	elif [ -s "$CIDATA/user-data" ]; then
		script=$HANGAR_STATE/user-data
		cp "$CIDATA/user-data" "$script"
		chmod 700 "$script"
		log=/var/log/hangar-user-data.log
		hangar_say "running user-data (output in $log)"
		if [ "$(head -c 2 "$script")" = '#!' ]; then
			(cd /root && HOME=/root "$script") > "$log" 2>&1 < /dev/null
		else
			(cd /root && HOME=/root sh "$script") > "$log" 2>&1 < /dev/null
		fi
		hangar_say "user-data exited with status $?"
	fi
	cp "$HANGAR_RUN/instance-id" "$HANGAR_STATE/instance-id"
	sync
}

# grow the root filesystem to its disc (reimage grows the disc, not the filesystem)
hangar_grow_root() {
	dev=$(awk '$2 == "/" && $1 ~ /^\/dev\// { d = $1 } END { print d }' /proc/mounts)
	[ -n "$dev" ] && [ -b "$dev" ] || return 0
	command -v resize2fs > /dev/null 2>&1 || return 0
	out=$(resize2fs "$dev" 2>&1) || { hangar_say "resize2fs $dev failed: $out"; return 0; }
	case "$out" in *"Nothing to do"*) ;; *) hangar_say "root filesystem grown to fill $dev" ;; esac
}

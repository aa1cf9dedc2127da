#!/usr/bin/env bash
# Builds the real control-plane binaries the tests run (kube-apiserver, kubectl,
# etcd; kube-proxy with --with-kube-proxy) from the pinned modules under
# hack/tools/, into bin/ (or $LOCALBIN). --with-cluster adds what the cluster
# testbed's nodes and control plane run: kubelet, kube-controller-manager and
# kube-scheduler (in the same `go build` as kube-apiserver, so they share its
# compile work) and containerd 2.x with its runc shim and ctr.
#
# A binary is rebuilt only when it is missing or when the sources of the module
# it comes from changed: bin/.control-plane.stamp records, per binary, a hash of
# that module's go.mod, go.sum and *.go files. When everything is up to date the
# script only hashes a few files and exits.
#
# usage: hack/build-control-plane.sh [--with-kube-proxy] [--with-cluster] [--force]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin_dir="${LOCALBIN:-${repo_root}/bin}"
stamp="${bin_dir}/.control-plane.stamp"

with_kube_proxy=false
with_cluster=false
force=false
for arg in "$@"; do
	case "${arg}" in
	--with-kube-proxy) with_kube_proxy=true ;;
	--with-cluster) with_cluster=true ;;
	--force) force=true ;;
	-h | --help)
		sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build-control-plane: unknown argument ${arg} (try --help)" >&2
		exit 2
		;;
	esac
done

# module_of NAME prints the hack/tools module directory NAME is built from;
# package_of NAME prints its Go package path inside that module.
module_of() {
	case "$1" in
	etcd) echo "${repo_root}/hack/tools/etcd" ;;
	containerd | containerd-shim-runc-v2 | ctr) echo "${repo_root}/hack/tools/containerd" ;;
	*) echo "${repo_root}/hack/tools/k8s" ;;
	esac
}
package_of() {
	case "$1" in
	etcd) echo "." ;;
	containerd | containerd-shim-runc-v2 | ctr) echo "github.com/containerd/containerd/v2/cmd/$1" ;;
	*) echo "k8s.io/kubernetes/cmd/$1" ;;
	esac
}

# module_version DIR MODULE prints the version DIR's go.mod requires of MODULE.
module_version() {
	awk -v m="$2" '$1 == "require" && $2 == m { print $3; exit }
		$1 == m && $2 ~ /^v/ { print $2; exit }' "$1/go.mod"
}

# ldflags_of DIR prints the linker flags for DIR's module. The Kubernetes
# commands get their release version stamped in, as the upstream build does;
# without it they report v0.0.0-master to clients and `kubectl version`.
# containerd likewise reports its module version instead of "+unknown".
ldflags_of() {
	if [[ "$1" == */containerd ]]; then
		echo "-X github.com/containerd/containerd/v2/version.Version=$(module_version "$1" github.com/containerd/containerd/v2)"
		return 0
	fi
	[[ "$1" == */k8s ]] || return 0
	local v major minor flags=() pkg
	v="$(module_version "$1" k8s.io/kubernetes)"
	if [[ ! "${v}" =~ ^v[0-9]+\.[0-9]+\. ]]; then
		echo "build-control-plane: no k8s.io/kubernetes version in $1/go.mod" >&2
		return 1
	fi
	major="${v#v}" && major="${major%%.*}"
	minor="${v#v*.}" && minor="${minor%%.*}"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		flags+=("-X ${pkg}.gitVersion=${v}" "-X ${pkg}.gitMajor=${major}" "-X ${pkg}.gitMinor=${minor}" "-X ${pkg}.gitTreeState=clean")
	done
	echo "${flags[*]}"
}

# source_hash DIR hashes the files that decide what DIR's module builds, and
# the linker flags. File names are part of the hash, so adding or renaming a
# file counts as a change.
source_hash() {
	{
		(cd "$1" && sha256sum go.mod go.sum ./*.go)
		ldflags_of "$1"
	} | sha256sum | cut -d' ' -f1
}

# recorded_hash NAME prints the hash the stamp file holds for NAME, if any.
recorded_hash() {
	[[ -f "${stamp}" ]] || return 0
	awk -v n="$1" '$1 == n { print $2 }' "${stamp}"
}

# record NAME HASH replaces NAME's line in the stamp file.
record() {
	local tmp
	tmp="$(mktemp "${stamp}.XXXXXX")"
	if [[ -f "${stamp}" ]]; then
		awk -v n="$1" '$1 != n' "${stamp}" >"${tmp}"
	fi
	echo "$1 $2" >>"${tmp}"
	mv "${tmp}" "${stamp}"
}

wanted=(kube-apiserver kubectl etcd)
if "${with_kube_proxy}"; then
	wanted+=(kube-proxy)
fi
if "${with_cluster}"; then
	wanted+=(kubelet kube-controller-manager kube-scheduler containerd containerd-shim-runc-v2 ctr)
fi

mkdir -p "${bin_dir}"

# One build at a time: two `make test` runs must not race on bin/.
if command -v flock >/dev/null 2>&1; then
	exec 9>"${bin_dir}/.control-plane.lock"
	flock 9
fi

declare -A hash_of=()
stale=()
for name in "${wanted[@]}"; do
	dir="$(module_of "${name}")"
	if [[ -z "${hash_of[${dir}]:-}" ]]; then
		hash_of[${dir}]="$(source_hash "${dir}")"
	fi
	if "${force}" || [[ ! -x "${bin_dir}/${name}" ]] ||
		[[ "$(recorded_hash "${name}")" != "${hash_of[${dir}]}" ]]; then
		stale+=("${name}")
	fi
done

if [[ ${#stale[@]} -eq 0 ]]; then
	echo "control plane up to date in ${bin_dir}: ${wanted[*]}"
	exit 0
fi

# Group the stale binaries by module so that each module is one `go build`
# (the Kubernetes commands share most of their packages).
for dir in "${repo_root}/hack/tools/k8s" "${repo_root}/hack/tools/etcd" "${repo_root}/hack/tools/containerd"; do
	names=()
	pkgs=()
	for name in "${stale[@]}"; do
		if [[ "$(module_of "${name}")" == "${dir}" ]]; then
			names+=("${name}")
			pkgs+=("$(package_of "${name}")")
		fi
	done
	[[ ${#names[@]} -gt 0 ]] || continue

	note=""
	if [[ "${dir}" == */k8s ]]; then
		note=" (cold, on 2 cores: ~3.5 min for kube-apiserver and kubectl, ~6 min with --with-cluster; later builds reuse the Go build cache)"
	fi
	echo "building ${names[*]} from ${dir#"${repo_root}"/}${note}"
	start=${SECONDS}
	# Build next to the destination and move into place, so that an interrupted
	# build never leaves a truncated binary that looks up to date.
	out="$(mktemp -d "${bin_dir}/.build.XXXXXX")"
	trap 'rm -rf "${out}"' EXIT
	if [[ "${dir}" == */etcd ]]; then
		(cd "${dir}" && go build -trimpath -o "${out}/etcd" .)
	elif [[ "${dir}" == */containerd ]]; then
		# Without cgo, as upstream builds the shim; this leaves out only the
		# btrfs snapshotter, which needs libbtrfs headers (the nodes use overlayfs).
		(cd "${dir}" && CGO_ENABLED=0 go build -trimpath -tags urfave_cli_no_docs \
			-ldflags "$(ldflags_of "${dir}")" -o "${out}/" "${pkgs[@]}")
	else
		(cd "${dir}" && go build -trimpath -ldflags "$(ldflags_of "${dir}")" -o "${out}/" "${pkgs[@]}")
	fi
	for name in "${names[@]}"; do
		mv -f "${out}/${name}" "${bin_dir}/${name}"
		record "${name}" "${hash_of[${dir}]}"
	done
	rm -rf "${out}"
	trap - EXIT
	echo "built ${names[*]} in $((SECONDS - start))s"
done

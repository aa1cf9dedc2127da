#!/usr/bin/env bash
# Builds Herald's container images without any registry (`make images`):
# herald-controller and herald-speaker (static Go binaries on an empty base)
# and herald-keepalived (the supervisor on a Debian root carrying keepalived
# and iproute2), plus herald-pause (the pod sandbox image of the cluster
# testbed's kubelets, which cannot pull registry.k8s.io/pause), from the
# Dockerfiles under build/, with buildah, into OCI archives:
#
#	$LOCALBIN/images/<name>-<version>-<arch>.oci.tar
#
# No registry can be reached here, so the keepalived image's base is made
# locally: `debootstrap --variant=minbase --include=keepalived,iproute2`
# from the Debian mirror apt already uses, tarred once into
# $LOCALBIN/images/cache (a later run reuses it: delete the tarball to
# refresh it) and imported as localhost/herald-keepalived-base:<suite>-<arch>,
# which the Dockerfile gets as BASE_IMAGE.
#
# buildah keeps its storage under $LOCALBIN/images/storage (and runroot),
# never the host's; every build runs with --isolation chroot: buildah's
# default isolation (oci) sets up a CNI bridge, iptables chains and
# ip_forward on the host for RUN steps. chroot isolation creates no network
# namespace (buildah refuses --network none with it), so it configures
# nothing: a RUN step simply shares the host's network, and ours reach for it
# only when the base lacks keepalived.
#
# Environment (all optional):
#	VERSION            image version and tag (default: git describe --always --dirty)
#	ARCHES             architectures of the Go images (default: amd64 arm64)
#	KEEPALIVED_ARCHES  architectures of herald-keepalived (default: amd64, empty: none;
#	                   a foreign one needs qemu-user-static for debootstrap's
#	                   second stage and the Dockerfile's RUN)
#	IMAGE_PREFIX       prefix of the name the archives carry (default:
#	                   docker.io/library/, so that `ctr -n k8s.io images import`
#	                   names them as the kubelet normalizes herald-controller:TAG)
#	DOCKER_ARCHIVES    1: also write <name>-<version>-<arch>.docker.tar (docker
#	                   save's format, for Docker Engines before 25)
#	TESTBED            1: build only the cluster testbed's own images (amd64),
#	                   herald-kube-proxy (bin/kube-proxy on a Debian root with
#	                   iptables) and herald-httpname (the backend Deployments'
#	                   server), from test/kcluster/images/<name>/Dockerfile;
#	                   test/kcluster runs them, nothing ships them; their
#	                   archives go to $LOCALBIN/images/testbed/
#	DEBIAN_SUITE       the base's Debian release (default: bookworm)
#	DEBIAN_MIRROR      the mirror (default: the one apt uses for DEBIAN_SUITE)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "${root}"

LOCALBIN="${LOCALBIN:-${root}/bin}"
mkdir -p "${LOCALBIN}/images"
# Resolved: bin/ may be a symlink, and buildah's context paths must not be.
out="$(realpath "${LOCALBIN}/images")"
cache="${out}/cache"
VERSION="${VERSION:-$(git describe --always --dirty)}"
ARCHES="${ARCHES-amd64 arm64}"
KEEPALIVED_ARCHES="${KEEPALIVED_ARCHES-amd64}"
DEBIAN_SUITE="${DEBIAN_SUITE:-bookworm}"
IMAGE_PREFIX="${IMAGE_PREFIX-docker.io/library/}"

if [[ ${EUID} -ne 0 ]]; then
	echo "build-images: needs root (buildah's overlay storage, debootstrap)" >&2
	exit 1
fi

# Layer timestamps and the image's created time come from the last commit,
# so that two builds of one commit differ only where the binaries do.
epoch="$(git log -1 --format=%ct)"

buildah=(buildah --root "${out}/storage" --runroot "${out}/runroot" --storage-driver overlay)

step() { printf '==> %s\n' "$*"; }

# debian_mirror prints the mirror apt fetches DEBIAN_SUITE from.
debian_mirror() {
	if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
		echo "${DEBIAN_MIRROR}"
		return
	fi
	local m
	m="$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' |
		awk -v s="${DEBIAN_SUITE}" '$2 == s { print $1; exit }')"
	if [[ -z "${m}" ]]; then
		echo "build-images: apt has no source for ${DEBIAN_SUITE}; set DEBIAN_MIRROR" >&2
		return 1
	fi
	echo "${m}"
}

# unmount_under unmounts whatever debootstrap may have left mounted below $1
# (proc, sys, dev/pts after a failed second stage), deepest first, so that
# removing the directory can never reach into the host's /proc or /dev.
unmount_under() {
	local dir="$1" m
	while read -r m; do
		umount -l "${m}" || true
	done < <(findmnt -rn -o TARGET | awk -v d="${dir}/" 'index($0, d) == 1' | sort -r)
}

# base_tarball ARCH FLAVOR PACKAGES makes (once) a Debian root for ARCH
# carrying PACKAGES (comma-separated) as a tarball in the cache.
base_tarball() {
	local arch="$1" flavor="$2" packages="$3"
	local tarball="${cache}/debian-${DEBIAN_SUITE}-${arch}-${flavor}.tar"
	if [[ -s "${tarball}" ]]; then
		echo "${tarball}"
		return
	fi
	mkdir -p "${cache}"
	local mirror rootfs
	mirror="$(debian_mirror)"
	rootfs="$(mktemp -d "${cache}/rootfs-${arch}.XXXXXX")"
	step "debootstrap ${DEBIAN_SUITE} ${arch} (${packages}) from ${mirror}" >&2
	if ! debootstrap --variant=minbase --arch="${arch}" --include="${packages}" \
		"${DEBIAN_SUITE}" "${rootfs}" "${mirror}" >"${rootfs}.log" 2>&1; then
		tail -n 30 "${rootfs}.log" >&2
		unmount_under "${rootfs}"
		rm -rf --one-file-system "${rootfs}"
		echo "build-images: debootstrap failed (log above)" >&2
		return 1
	fi
	unmount_under "${rootfs}"
	# What a runtime image never reads: downloaded packages, package lists
	# (the Dockerfile refreshes them if it must install), docs, man pages,
	# translations, logs.
	rm -rf --one-file-system \
		"${rootfs}"/var/cache/apt/archives/*.deb \
		"${rootfs}"/var/cache/apt/*.bin \
		"${rootfs}"/var/lib/apt/lists/* \
		"${rootfs}"/usr/share/doc/* \
		"${rootfs}"/usr/share/man/* \
		"${rootfs}"/usr/share/info/* \
		"${rootfs}"/usr/share/locale/* \
		"${rootfs}"/var/log/*
	tar --numeric-owner --sort=name -C "${rootfs}" -cf "${tarball}.tmp" .
	rm -rf --one-file-system "${rootfs}" "${rootfs}.log"
	mv "${tarball}.tmp" "${tarball}"
	echo "${tarball}"
}

# base_image ARCH FLAVOR PACKAGES imports the base tarball into buildah's
# storage unless the image there was made from this very tarball; it
# prints the image name.
base_image() {
	local arch="$1" flavor="$2" tarball ref sum have
	tarball="$(base_tarball "$@")"
	ref="localhost/herald-${flavor}-base:${DEBIAN_SUITE}-${arch}"
	sum="$(sha256sum "${tarball}" | cut -d' ' -f1)"
	have="$("${buildah[@]}" inspect --type image \
		--format '{{index .ImageAnnotations "io.herald.base.tarball"}}' "${ref}" 2>/dev/null || true)"
	if [[ "${have}" != "${sum}" ]]; then
		step "import ${tarball##*/} as ${ref}" >&2
		local ctr
		ctr="$("${buildah[@]}" from --pull=never --arch "${arch}" scratch)"
		"${buildah[@]}" add --quiet "${ctr}" "${tarball}" / >/dev/null
		"${buildah[@]}" config --os linux --arch "${arch}" \
			--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			--annotation "io.herald.base.tarball=${sum}" "${ctr}"
		"${buildah[@]}" commit --quiet --rm --timestamp "${epoch}" "${ctr}" "${ref}" >/dev/null
	fi
	echo "${ref}"
}

# build_image NAME ARCH [BUILD_ARG...] builds ${dockerfiles}/NAME/Dockerfile
# (build/, or test/kcluster/images/ for TESTBED) with the staged binaries of
# ARCH as context and writes its OCI archive.
build_image() {
	local name="$1" arch="$2"
	shift 2
	local ctx="${ctx_override:-${out}/context/linux-${arch}}"
	local tag="localhost/${name}:${VERSION}-${arch}"
	local archives="${archive_dir:-${out}}"
	local archive="${archives}/${name}-${VERSION}-${arch}.oci.tar"
	local args=()
	for a in "$@"; do
		args+=(--build-arg "${a}")
	done
	step "build ${name} ${VERSION} ${arch}"
	"${buildah[@]}" bud --quiet --isolation chroot --pull=never \
		--platform "linux/${arch}" --layers=false --identity-label=false \
		--timestamp "${epoch}" --build-arg "VERSION=${VERSION}" "${args[@]}" \
		--iidfile "${out}/.iid" -f "${dockerfiles}/${name}/Dockerfile" -t "${tag}" "${ctx}" >/dev/null
	# Pushed by ID: an archive then carries only the name given here, not
	# also the local build tag.
	local id
	id="$(cat "${out}/.iid")"
	rm -f "${out}/.iid"
	# One archive per image and architecture: older versions' go.
	rm -f "${archives}/${name}"-*-"${arch}".oci.tar
	"${buildah[@]}" push --quiet "${id}" "oci-archive:${archive}:${IMAGE_PREFIX}${name}:${VERSION}"
	echo "    ${archive} ($(du -h "${archive}" | cut -f1))"
	if [[ "${DOCKER_ARCHIVES:-}" == 1 ]]; then
		rm -f "${out}/${name}"-*-"${arch}".docker.tar
		"${buildah[@]}" push --quiet "${id}" \
			"docker-archive:${out}/${name}-${VERSION}-${arch}.docker.tar:${IMAGE_PREFIX}${name}:${VERSION}"
		echo "    ${out}/${name}-${VERSION}-${arch}.docker.tar"
	fi
	"${buildah[@]}" rmi "${tag}" >/dev/null
}

dockerfiles="${root}/build"

if [[ "${TESTBED:-}" == 1 ]]; then
	# The cluster testbed's images, amd64 only (the testbed runs here).
	ctx="${out}/context/testbed-amd64"
	mkdir -p "${ctx}"
	if [[ ! -x "${LOCALBIN}/kube-proxy" ]]; then
		echo "build-images: no ${LOCALBIN}/kube-proxy (hack/build-control-plane.sh --with-kube-proxy)" >&2
		exit 1
	fi
	step "go build httpname, stage kube-proxy"
	CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "${ctx}/" ./test/e2e/cmd/httpname
	cp "${LOCALBIN}/kube-proxy" "${ctx}/kube-proxy"
	dockerfiles="${root}/test/kcluster/images"
	base="$(base_image amd64 kube-proxy iptables,conntrack)"
	mkdir -p "${out}/testbed"
	ctx_override="${ctx}" archive_dir="${out}/testbed" build_image herald-kube-proxy amd64 "BASE_IMAGE=${base}"
	ctx_override="${ctx}" archive_dir="${out}/testbed" build_image herald-httpname amd64
	exit 0
fi

for arch in $(printf '%s\n' ${ARCHES} ${KEEPALIVED_ARCHES} | sort -u); do
	ctx="${out}/context/linux-${arch}"
	mkdir -p "${ctx}"
	# The same CGO_ENABLED and -trimpath as the Makefile's VET: after `make
	# lint` the packages are compiled already and this only links.
	step "go build linux/${arch}"
	CGO_ENABLED=0 GOOS=linux GOARCH="${arch}" go build -trimpath -ldflags '-s -w' \
		-o "${ctx}/" ./cmd/herald-controller ./cmd/herald-speaker ./cmd/herald-keepalived ./build/herald-pause
done

for arch in ${ARCHES}; do
	build_image herald-controller "${arch}"
	build_image herald-speaker "${arch}"
	build_image herald-pause "${arch}"
done
for arch in ${KEEPALIVED_ARCHES}; do
	base="$(base_image "${arch}" keepalived keepalived,iproute2)"
	build_image herald-keepalived "${arch}" "BASE_IMAGE=${base}"
done

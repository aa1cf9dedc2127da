// Package images checks the container images `make images` builds, offline:
// it reads their OCI archives (bin/images/*.oci.tar, a tar of an OCI image
// layout: oci-layout, index.json, blobs/sha256/...) with archive/tar and
// encoding/json alone, so the check needs no registry, no container runtime
// and no image library. The tests skip when no archive exists.
package images

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// refNameAnnotation names an image within an OCI layout's index.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// descriptor is an OCI content descriptor, the fields used here.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type index struct {
	Manifests []descriptor `json:"manifests"`
}

type manifest struct {
	Config descriptor   `json:"config"`
	Layers []descriptor `json:"layers"`
}

// Config is the part of an OCI image configuration the checks read.
type Config struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Env        []string          `json:"Env"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
}

// Entry is one path of the image's flattened filesystem.
type Entry struct {
	Typeflag byte
	Mode     int64
	Size     int64
	Linkname string
}

// Image is one image of an OCI archive: its name, configuration and the
// union of its layers' entries (later layers win; whiteouts applied).
type Image struct {
	RefName string
	Config  Config
	Files   map[string]Entry

	archive string
	layers  []descriptor
}

// Open reads the single image of the OCI archive at file.
func Open(file string) (*Image, error) {
	blobs, err := smallBlobs(file)
	if err != nil {
		return nil, err
	}
	var idx index
	if err := unmarshalBlob(blobs, "index.json", &idx); err != nil {
		return nil, err
	}
	if len(idx.Manifests) != 1 {
		return nil, fmt.Errorf("%s: index.json lists %d manifests, want 1", file, len(idx.Manifests))
	}
	var m manifest
	if err := unmarshalBlob(blobs, blobPath(idx.Manifests[0].Digest), &m); err != nil {
		return nil, err
	}
	im := &Image{
		RefName: idx.Manifests[0].Annotations[refNameAnnotation],
		Files:   map[string]Entry{},
		archive: file,
		layers:  m.Layers,
	}
	if err := unmarshalBlob(blobs, blobPath(m.Config.Digest), &im.Config); err != nil {
		return nil, err
	}
	err = im.walkLayers(func(name string, h *tar.Header, _ io.Reader) error {
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			for p := range im.Files {
				if strings.HasPrefix(p, dir) {
					delete(im.Files, p)
				}
			}
		case strings.HasPrefix(base, ".wh."):
			gone := dir + strings.TrimPrefix(base, ".wh.")
			for p := range im.Files {
				if p == gone || strings.HasPrefix(p, gone+"/") {
					delete(im.Files, p)
				}
			}
		default:
			im.Files[name] = Entry{Typeflag: h.Typeflag, Mode: h.Mode, Size: h.Size, Linkname: h.Linkname}
			// Layers need not list the directories above an entry.
			for d := path.Dir(name); d != "."; d = path.Dir(d) {
				if _, ok := im.Files[d]; ok {
					break
				}
				im.Files[d] = Entry{Typeflag: tar.TypeDir, Mode: 0o755}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return im, nil
}

// Resolve follows symbolic links in p (absolute, within the image), as the
// kernel would inside the container, and returns the path it names.
func (im *Image) Resolve(p string) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := ""
	for hops := 0; len(rest) > 0; {
		next := path.Join(cur, rest[0])
		rest = rest[1:]
		e, ok := im.Files[next]
		if !ok {
			return "", fmt.Errorf("%s: %s: no such file in the image", im.archive, "/"+next)
		}
		if e.Typeflag != tar.TypeSymlink {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: %s: too many symbolic links", im.archive, p)
		}
		target := e.Linkname
		if !path.IsAbs(target) {
			target = path.Join("/", cur, target)
		}
		rest = append(strings.Split(strings.Trim(path.Clean(target), "/"), "/"), rest...)
		cur = ""
	}
	return cur, nil
}

// ReadFile returns the contents of the regular file p (symbolic links
// followed) as the topmost layer holding it has them.
func (im *Image) ReadFile(p string) ([]byte, error) {
	name, err := im.Resolve(p)
	if err != nil {
		return nil, err
	}
	if e := im.Files[name]; e.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s: %s: not a regular file (type %q)", im.archive, p, e.Typeflag)
	}
	var data []byte
	err = im.walkLayers(func(n string, _ *tar.Header, r io.Reader) error {
		if n != name {
			return nil
		}
		b, err := io.ReadAll(r)
		data = b
		return err
	})
	return data, err
}

// walkLayers calls fn for every entry of every layer, bottom layer first,
// with the entry's path normalized ("usr/bin/ip": relative, cleaned).
func (im *Image) walkLayers(fn func(name string, h *tar.Header, r io.Reader) error) error {
	for _, l := range im.layers {
		err := withBlob(im.archive, blobPath(l.Digest), func(r io.Reader) error {
			switch {
			case strings.HasSuffix(l.MediaType, "+gzip"):
				zr, err := gzip.NewReader(r)
				if err != nil {
					return err
				}
				defer zr.Close()
				r = zr
			case strings.HasSuffix(l.MediaType, ".tar"):
			default:
				return fmt.Errorf("layer media type %q not supported", l.MediaType)
			}
			tr := tar.NewReader(r)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				name := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
				if name == "" {
					continue
				}
				if err := fn(name, h, tr); err != nil {
					return err
				}
			}
		})
		if err != nil {
			return fmt.Errorf("%s: layer %s: %w", im.archive, l.Digest, err)
		}
	}
	return nil
}

func blobPath(digest string) string {
	return "blobs/" + strings.Replace(digest, ":", "/", 1)
}

// smallBlobs returns every member of the archive up to 1 MiB (index.json,
// manifests, configs) by its cleaned path.
func smallBlobs(file string) (map[string][]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", file, h.Name, err)
		}
		out[path.Clean(h.Name)] = b
	}
}

func unmarshalBlob(blobs map[string][]byte, name string, v any) error {
	b, ok := blobs[name]
	if !ok {
		return fmt.Errorf("%s missing from the archive", name)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// withBlob calls fn with the contents of the archive member name.
func withBlob(file, name string, fn func(io.Reader) error) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s missing from the archive", name)
		}
		if err != nil {
			return err
		}
		if path.Clean(h.Name) == name {
			return fn(tr)
		}
	}
}

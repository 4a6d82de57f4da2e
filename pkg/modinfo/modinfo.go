package modinfo

import (
	"bytes"
	"io"
	"strings"
)

// Info is what a module's .modinfo section says about it.
type Info struct {
	// Name is the name= field with '-' normalized to '_' (empty if the module has none; ReadFile
	// then derives it from the file name, as kmod does for every module).
	Name string
	// Depends lists the depends= module names (normalized), the module's direct hard
	// dependencies as computed by modpost. Nil when the field is empty.
	Depends []string
	// Aliases lists every alias= value as written (not normalized), in section order.
	Aliases []string
	// SoftdepPre and SoftdepPost list the names or aliases of softdep= "pre:" and "post:"
	// entries, merged over all softdep= fields in section order.
	SoftdepPre, SoftdepPost []string
	// Firmware lists the firmware= file names.
	Firmware []string
	// Vermagic is the vermagic= string, e.g. "6.1.0-27-amd64 SMP preempt mod_unload modversions ".
	Vermagic string
	// Params lists the parameter names found in parm= and parmtype= fields, once each, in
	// order of first appearance.
	Params []string
	// License is the first license= value.
	License string
	// Description is the first description= value.
	Description string
	// Intree is true when intree=Y (built with the kernel tree, not out of tree).
	Intree bool
	// Retpoline is true when retpoline=Y.
	Retpoline bool
	// Size is the size of the file ReadFile read, as stored (compressed size for .ko.xz etc.).
	// Zero when the Info came from Parse or ParseBuiltin.
	Size int64
}

// Parse returns the .modinfo of the kernel module image elf (an uncompressed ELF file).
func Parse(elf []byte) (*Info, error) {
	sec, err := findModinfo(memReader(elf))
	if err != nil {
		return nil, err
	}
	return ParseSection(sec), nil
}

// ParseReaderAt is Parse for a module of size bytes read through r, typically an *os.File. It
// reads the ELF header, the section header table and .modinfo, not the whole module.
func ParseReaderAt(r io.ReaderAt, size int64) (*Info, error) {
	if size < 0 {
		size = 0
	}
	sec, err := findModinfo(&fileReader{r: r, n: uint64(size)})
	if err != nil {
		return nil, err
	}
	return ParseSection(sec), nil
}

// ParseSection decodes the contents of a .modinfo section: NUL-separated "key=value" strings.
// Entries without '=' are ignored, as kmod ignores them. It never fails: unknown keys are
// skipped.
func ParseSection(sec []byte) *Info {
	info := &Info{}
	for len(sec) > 0 {
		var entry []byte
		if i := bytes.IndexByte(sec, 0); i >= 0 {
			entry, sec = sec[:i], sec[i+1:]
		} else {
			entry, sec = sec, nil
		}
		if len(entry) == 0 {
			continue
		}
		eq := bytes.IndexByte(entry, '=')
		if eq < 0 {
			continue
		}
		info.add(string(entry[:eq]), string(entry[eq+1:]))
	}
	return info
}

// add records one key=value entry.
func (info *Info) add(key, value string) {
	switch key {
	case "alias":
		info.Aliases = append(info.Aliases, value)
	case "depends":
		for _, d := range strings.Split(value, ",") {
			if d = strings.TrimSpace(d); d != "" {
				info.Depends = append(info.Depends, NormalizeName(d))
			}
		}
	case "softdep":
		pre, post := ParseSoftdep(value)
		info.SoftdepPre = append(info.SoftdepPre, pre...)
		info.SoftdepPost = append(info.SoftdepPost, post...)
	case "firmware":
		info.Firmware = append(info.Firmware, value)
	case "vermagic":
		info.Vermagic = value
	case "name":
		info.Name = NormalizeName(value)
	case "parm", "parmtype":
		name, _, _ := strings.Cut(value, ":")
		if name != "" && !contains(info.Params, name) {
			info.Params = append(info.Params, name)
		}
	case "license":
		if info.License == "" {
			info.License = value
		}
	case "description":
		if info.Description == "" {
			info.Description = value
		}
	case "intree":
		info.Intree = value == "Y"
	case "retpoline":
		info.Retpoline = value == "Y"
	}
}

// ParseSoftdep splits a softdep value such as "pre: a b post: c" into its pre and post names.
// As in kmod's modprobe.d parser, words before the first "pre:" or "post:" are ignored (the
// kernel's "softdep=gcm" style fields therefore name nothing) and both markers may repeat.
func ParseSoftdep(value string) (pre, post []string) {
	const (
		none = iota
		inPre
		inPost
	)
	mode := none
	for _, w := range strings.Fields(value) {
		switch w {
		case "pre:":
			mode = inPre
		case "post:":
			mode = inPost
		default:
			switch mode {
			case inPre:
				pre = append(pre, w)
			case inPost:
				post = append(post, w)
			}
		}
	}
	return pre, post
}

// NormalizeName returns a module name with every '-' replaced by '_', the spelling the kernel
// uses in /proc/modules and /sys/module.
func NormalizeName(name string) string {
	if strings.IndexByte(name, '-') < 0 {
		return name
	}
	return strings.ReplaceAll(name, "-", "_")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

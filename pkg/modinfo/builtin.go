package modinfo

import (
	"bytes"
	"errors"
	"fmt"
)

// ErrBadBuiltin is wrapped by ParseBuiltin errors about malformed records.
var ErrBadBuiltin = errors.New("malformed modules.builtin.modinfo record")

// ParseBuiltin decodes modules.builtin.modinfo: NUL-terminated "modname.key=value" records
// for the modules compiled into the kernel image. The result maps each module name ('-'
// normalized to '_') to its Info; Name is set to that name. Empty records are skipped; a record
// without a "modname." prefix or without '=' is an error giving its offset, since kmod would
// reject the file too.
//
// Note that the kernel also writes records for parameters of built-in code that is not a
// module (e.g. "workqueue.parmtype=..."), so not every name here is a module listed in
// modules.builtin.
func ParseBuiltin(data []byte) (map[string]*Info, error) {
	mods := make(map[string]*Info)
	off := 0
	for off < len(data) {
		rec := data[off:]
		if i := bytes.IndexByte(rec, 0); i >= 0 {
			rec = rec[:i]
		}
		start := off
		off += len(rec) + 1
		if len(rec) == 0 {
			continue
		}
		eq := bytes.IndexByte(rec, '=')
		if eq < 0 {
			return nil, fmt.Errorf("%w at offset %d (%.60q): no '='", ErrBadBuiltin, start, rec)
		}
		dot := bytes.IndexByte(rec[:eq], '.')
		if dot <= 0 || dot == eq-1 {
			return nil, fmt.Errorf("%w at offset %d (%.60q): want modname.key=value", ErrBadBuiltin, start, rec)
		}
		name := NormalizeName(string(rec[:dot]))
		info := mods[name]
		if info == nil {
			info = &Info{Name: name}
			mods[name] = info
		}
		key := string(rec[dot+1 : eq])
		if key == "name" {
			continue // the record prefix already names the module
		}
		info.add(key, string(rec[eq+1:]))
	}
	return mods, nil
}

// Package modindex opens a meta.pb index and answers the questions the loader and coldplug ask:
// which module is this name, which modules match this alias or modalias, and in what order must a
// set of modules and their dependencies be loaded.
//
// # Loading cost
//
// Every modload and coldplug process opens the index, so Decode does as little as it can: it
// walks the top-level fields, keeps each Module message as a byte slice into the file, and wraps
// the match table's flat arrays without copying or rebuilding them (Open maps the file). A Module
// is decoded on first use, and that is where the checks that keep a hostile file harmless run:
// its path must stay inside the module root and its dependency indices in range, or the module
// is refused with an error naming the file. Validate runs those checks over every module, plus
// the name order ByName relies on; mkmeta and the tests call it.
//
// # Resolution order
//
// Resolve follows libkmod's kmod_module_new_from_lookup: the first source that yields anything
// wins, in this order: a loadable module of that exact name, the aliases of loadable modules, the
// names of built-in modules, the aliases of built-in modules. modprobe.d "alias" lines come before
// all of these; they belong to the loader's configuration, not to the index.
package modindex

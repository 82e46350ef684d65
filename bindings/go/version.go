package breakwater

// #include "breakwater.h"
import "C"

import "fmt"

// BindingVersion is the version of this binding; the library it loads must have the
// same version (see CheckVersion).
const BindingVersion = "0.1.0"

// Version returns the loaded library's version ("MAJOR.MINOR.PATCH").
func Version() string {
	return C.GoString(C.bw_version())
}

// ABIVersion returns the loaded library's ABI version.
func ABIVersion() uint32 {
	return uint32(C.bw_abi_version())
}

// CheckVersion reports an error when the loaded library's version differs from
// BindingVersion. (A different ABI version makes the package panic when it is loaded.)
func CheckVersion() error {
	if v := Version(); v != BindingVersion {
		return fmt.Errorf("breakwater: the loaded library is version %s, the Go binding is %s", v, BindingVersion)
	}
	return nil
}

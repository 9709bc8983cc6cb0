// A plugin built for another gate ABI: graceful must refuse it by name.
extern "C" int graceful_gate_abi_version() { return 999; }
extern "C" void graceful_register_gates() {}

# lit configuration for graceful's compiler tests.
import os

import lit.formats

config.name = "graceful-compiler"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".onnxtxt"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.graceful_binary_dir, "compiler", "test")
config.environment["PATH"] = os.pathsep.join(
    [os.path.join(config.graceful_binary_dir, "compiler"), config.llvm_tools_dir,
     config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%inputs", os.path.join(config.test_source_root, "Inputs")))

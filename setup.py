"""The wheel carries the shipped models: the repository's ``models/`` is copied into the built
package as ``mirnet/shipped_models/`` (``mirnet.pretrained`` looks there first), so that
``pip install .`` gives a user outside the checkout the very files a checkout has. Everything
else is in ``pyproject.toml``."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"


class BuildWithModels(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads the checkout's models/ itself
            return
        target = Path(self.build_lib) / "mirnet" / "shipped_models"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(MODELS, target)


setup(cmdclass={"build_py": BuildWithModels})

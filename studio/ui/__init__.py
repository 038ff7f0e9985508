"""The Studio page: a Gradio Blocks app over the same services as the CLI (``python ui.py`` or ``studio ui``).

Importing this package only keeps Gradio and the Hugging Face hub off the network (these variables must be set
before ``gradio`` is first imported); building the page is ``studio.ui.app.build_app`` and serving it
``studio.ui.app.serve``. Modules: ``app`` (the Blocks and the launch), ``options`` (host, port, runs folder), one
module per tab (``blues_tab``, ``compose_tab``, ``write_tab``, ``train_tab``, ``models_tab``), ``model_cache`` (lazy,
cached models), ``training_job`` (fine-tuning in a background thread), ``music_files`` (a performance to audio,
score and downloads), ``validation`` (ranges, uploads, and errors shown as messages), ``widgets`` (shared controls)
and ``workspace`` (output folders).
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no usage analytics, no version check against PyPI
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
}
os.environ.update(OFFLINE_ENVIRONMENT)

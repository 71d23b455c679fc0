# ConvScope for one small server (1-2 CPUs, about 1 GB): CPU-only PyTorch, one torch thread,
# one training run at a time, a non-root user. Build and run:
#   docker build -t convscope . && docker run --rm -p 8501:8501 convscope
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # One OpenMP/MKL thread per process: many sessions share 1-2 CPUs (README, Benchmarks).
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    # Demo limits (cnn_core/limits.py); override with docker run -e NAME=value.
    CONVSCOPE_THREADS=1 \
    CONVSCOPE_TRAINING_SLOTS=1 \
    CONVSCOPE_MAX_EPOCHS=20 \
    CONVSCOPE_MAX_TRAIN_IMAGES=60000 \
    CONVSCOPE_MAX_TRAIN_SECONDS=60 \
    STREAMLIT_SERVER_HEADLESS=true

RUN useradd --create-home --uid 10001 convscope
WORKDIR /app

# CPU wheel of the pinned torch first (the PyPI wheel for Linux pulls in CUDA, over 2 GB), then
# the rest; pip keeps the installed 2.x.y+cpu because it satisfies torch==2.x.y.
COPY requirements.txt .
RUN pip install --index-url https://download.pytorch.org/whl/cpu "$(grep '^torch==' requirements.txt)" \
 && pip install -r requirements.txt

# The code stays owned by root (read-only for the app); downloads go to the user's home.
COPY . .
USER convscope

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501"]

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir '.[postgres]'
COPY monitor.yaml ./
RUN mkdir -p /app/state /app/rules
VOLUME ["/app/state", "/app/rules"]
ENTRYPOINT ["monitor", "--config", "/app/monitor.yaml"]
CMD ["-v", "run"]

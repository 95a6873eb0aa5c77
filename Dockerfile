FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY resolvers ./resolvers
COPY services ./services
COPY simulator ./simulator
RUN pip install --no-cache-dir .
RUN useradd --system --uid 10001 vigil
USER vigil
EXPOSE 8000
CMD ["vigil", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]

# The image docker-compose.yml runs for web and worker: the checkout, installed, run as `chorus`.
FROM python:3.11-slim
WORKDIR /srv/chorus
COPY . .
RUN pip install --no-cache-dir -e . && useradd --system chorus && mkdir -p /var/lib/chorus \
    && chown chorus /var/lib/chorus
USER chorus
ENV CHORUS_INSTANCE=/var/lib/chorus CHORUS_ENV=production
EXPOSE 8000
CMD ["gunicorn", "chorus.wsgi:app", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4"]

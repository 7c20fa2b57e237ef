# One image for web, worker and scheduler (docker-compose.yml picks the command).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY helpdesk helpdesk
COPY channels_app channels_app
COPY tickets tickets
COPY routing routing
COPY templates templates
COPY static static
COPY manage.py ./
RUN pip install --no-cache-dir . && python manage.py collectstatic --no-input -v 0
EXPOSE 8000
# ASGI: pages, the API and the inbox's websocket (/ws/inbox/) in one server.
CMD ["uvicorn", "helpdesk.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--ws", "wsproto"]

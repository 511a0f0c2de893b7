"""The application's names, as Qt's settings, the window title and the About box show them."""

APP_NAME = "Studio"
ORG_NAME = "Studio"

"""Platform-neutral reports: figures computed from the database (stats) and drawn as PNG
charts with alt text (charts). Posting them to Slack or Teams is the adapters' job."""

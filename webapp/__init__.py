"""IC Studio web application (Django). Built in issue 3."""

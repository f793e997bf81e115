"""The one Azure Functions app of TinyShop: it registers each app's blueprint and nothing else.

Every Deployment runs this same image and allow-lists its own functions, so importing this module
must stay cheap and side-effect free (no connections are opened here).
"""

import azure.functions as func

from functions.catalog.function import bp as catalog
from functions.orders.function import bp as orders
from functions.worker.function import bp as worker

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(catalog)
app.register_functions(orders)
app.register_functions(worker)

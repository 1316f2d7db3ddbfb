"""The Qt-free logic behind each tab: what a panel asks for, computed from the engine.

If a module's docstring has to name a tab, it lives here. Panels in ``cnnlab.app`` draw
what these functions return; tests call exactly what the panels call.
"""

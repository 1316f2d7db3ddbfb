from PyQt6.QtWidgets import QWidget
class KernelRecoveryView(QWidget):  # interim until cnnlab.engine.recovery exists
    def __init__(self, session, parent=None):
        super().__init__(parent)
    def set_images(self, images): pass
    def save_settings(self, s, p): pass
    def restore_settings(self, s, p): pass

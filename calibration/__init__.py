"""prosync.calibration"""

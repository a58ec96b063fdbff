"""prosync.streams"""

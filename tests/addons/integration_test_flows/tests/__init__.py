from . import test_exception_queue_tour, test_queue
